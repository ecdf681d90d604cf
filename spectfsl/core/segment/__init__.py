"""Few-shot tissue maps: label every voxel of a scan from one to five labelled scans (`spectfsl segment`)."""
