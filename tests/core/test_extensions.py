from spacy.tokens import Doc, Span, Token

from tsunagu.extensions import EXTENSIONS, exported, register_extensions


def test_every_extension_is_declared_once_and_idempotently():
    register_extensions()
    register_extensions()
    names = [(e.owner.__name__, e.name) for e in EXTENSIONS]
    assert len(names) == len(set(names))
    for ext in EXTENSIONS:
        assert ext.owner.has_extension(ext.name), ext.name
        assert ext.doc


def test_exported_lists_follow_the_declarations():
    assert "reading" in exported(Token) and "inflection" in exported(Token)
    assert "bunsetu" in exported(Doc)
    assert exported(Span) == [e.name for e in EXTENSIONS if e.owner is Span and e.export]


def test_getters_are_safe_on_a_blank_pipeline():
    import spacy

    doc = spacy.blank("en")("plain words")
    assert doc._.bunsetu == []
    assert doc[0]._.reading is None and doc[0]._.inflection is None
