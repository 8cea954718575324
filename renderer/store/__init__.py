"""What render keeps on disk: the content-addressed cache, the lockfile, the manifest, the no-op state."""
