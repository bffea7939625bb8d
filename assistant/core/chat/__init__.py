"""A chat turn from question to saved answer: recall, the model's stream, history."""
