"""codeladder: take open code LLMs up the code-generation leaderboards, and prove every step."""

__version__ = "0.1.0"
