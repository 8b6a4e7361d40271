"""Tests of the coordinator's task store, result store and combine step."""
