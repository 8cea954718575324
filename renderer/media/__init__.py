"""Media helpers: media types, probing and ffmpeg."""
