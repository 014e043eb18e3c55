"""The PC web UI: pages for customers, store owners and riders."""
