"""The recipe version of each built-in provider, in one place. Each is part of every cache key of its
provider (engine/key.py); together they are part of the version a run's no-op snapshot is saved under
(store/state.py). A render whose providers now make other bytes than the last run's (render upgraded, a
bump here) then decides everything again, as the full path would, instead of taking the snapshot as current.
Bump one when its provider's outputs change. Standard library only: the no-op path imports it."""

LOCAL = "local-7"  # also with imageio-ffmpeg, numpy and Pillow, which make its bytes
VARG = "varg-1"
VREX = "vrex-1"

ALL = ",".join((LOCAL, VARG, VREX))
