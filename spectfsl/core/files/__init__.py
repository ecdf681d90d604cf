"""Files: the one image loader, DICOM, atomic writes, the safetensors store, point lists, pseudonyms."""
