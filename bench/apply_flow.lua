-- wrk: the apply flow as a browser does it. Each connection (run with as many threads as
-- connections, -t N -c N, so that this state belongs to one connection) loads /apply as a
-- new visitor, reads the CSRF token, the idempotency key and the session cookie from the
-- response, then posts the form back filled in; a 303 to /apply/thanks means stored.
-- GET and POST count as two requests. The family lives in the United States: each POST
-- sends a ZIP code taken in turn from the file named by wrk's first script argument
-- (`wrk ... URL -- FILE`, one code a line; codes the site can locate, so matching ranks
-- the catalog by distance), or 10001 without one.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local codes = {"10001"}
local distances = {"80", "160", "400", "800", "any"}
local diagnoses = {"all", "aml", "neuroblastoma", "medulloblastoma", "osteosarcoma", "wilms"}

function init(args)
  if args[1] then
    codes = {}
    for line in io.lines(args[1]) do
      if line ~= "" then table.insert(codes, line) end
    end
  end
end

local token, key, cookie = nil, nil, nil
local expecting = nil
local n = 0
gets, posts, stored, bad = 0, 0, 0, 0

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  if token == nil then
    expecting = "form"
    return wrk.format("GET", "/apply", {})  -- a new visitor: no cookie yet
  end
  n = n + 1
  local body = "csrf_token=" .. encode(token) .. "&idempotency_key=" .. encode(key)
    .. "&hp_extra_notes=&role=parent&patient_age=" .. (n % 18)
    .. "&diagnosis=" .. diagnoses[n % #diagnoses + 1] .. "&diagnosis_other="
    .. "&treatment_stage=in_treatment&country=US&postal_code="
    .. encode(codes[(id * 7919 + n) % #codes + 1])
    .. "&travel_distance=" .. distances[n % #distances + 1] .. "&name=Bench+Family"
    .. "&email=bench" .. id .. "-" .. n .. "%40example.com&phone=&contact_method=email&consent=y"
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie}
  token, key, cookie = nil, nil, nil
  expecting = "redirect"
  return wrk.format("POST", "/apply", headers, body)
end

function response(status, headers, body)
  if expecting == "form" then
    gets = gets + 1
    local set_cookie = headers["Set-Cookie"] or headers["set-cookie"]
    token = body:match('name="csrf_token"[^>]-value="([^"]*)"')
    key = body:match('name="idempotency_key"[^>]-value="([^"]*)"')
    cookie = set_cookie and set_cookie:match("^([^;]+)")
    if status ~= 200 or not (token and key and cookie) then
      bad = bad + 1
      token = nil
    end
  elseif expecting == "redirect" then
    posts = posts + 1
    local location = headers["Location"] or headers["location"] or ""
    if status == 303 and location:find("/apply/thanks", 1, true) then
      stored = stored + 1
    else
      bad = bad + 1
    end
  end
  expecting = nil
end

function done(summary, latency, requests)
  local g, p, s, b = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    g = g + thread:get("gets")
    p = p + thread:get("posts")
    s = s + thread:get("stored")
    b = b + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d"
    .. " gets=%d posts=%d stored=%d bad=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, g, p, s, b))
end
