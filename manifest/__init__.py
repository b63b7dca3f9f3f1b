"""The Teams app package: manifest template, icons, build to .zip, offline validation."""
