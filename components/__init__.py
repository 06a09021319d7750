"""tsunagu's spaCy pipeline components.

Factories are declared as ``spacy_factories`` entry points. spaCy imports every
such entry point whenever any Language is created, so the modules they name import
torch, gensim or transformers only inside the functions that build a component.
"""
