"""Media: uploads, content checks, image variants and video renditions in object storage."""
