"""The CLI's brain: session context, skills, prompt building, agent adapters,
launching agents, and the runner that opens their terminals."""
