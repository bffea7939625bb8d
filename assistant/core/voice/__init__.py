"""Voice input: the microphone, transcription with faster-whisper, dictation."""
