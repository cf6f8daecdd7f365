"""Travel NLU: intent and entities in Korean travel questions."""
