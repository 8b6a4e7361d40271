"""Tests of the synthetic federation generator (analyses/synth)."""
