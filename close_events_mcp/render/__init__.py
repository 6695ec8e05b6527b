"""Every word the model reads: event lines and details, changes and values, object facts, the
catalog's description, and fitting an answer to the size cap."""
