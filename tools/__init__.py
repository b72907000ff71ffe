"""Helpers shared by the developer scripts in bench/, audit/ and loadtest/ (not part of the
app): app.py runs the app's commands, machine.py describes the machine, measure.py times
a command and measures its memory."""
