"""Trials from ClinicalTrials.gov: the catalog (import and sync), the synonym table that
ties its conditions to our diagnosis list, and matching a lead to recruiting trials."""
