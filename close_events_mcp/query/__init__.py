"""What a call asks for: the filters parsed once into one typed model, the plan (what Close is asked,
what is checked locally), cursors and checkpoints."""
