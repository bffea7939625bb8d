"""What every capability stands on: errors, where files live, the stream types and the Engine protocol, safe file writes, the bundled starter models, CPU threads."""
