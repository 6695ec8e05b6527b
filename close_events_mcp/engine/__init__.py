"""Reading events: a page, a sliced scan of a window, a forward poll, the digest's tally."""
