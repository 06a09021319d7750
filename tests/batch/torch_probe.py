"""A pipeline component that runs multi-threaded torch ops, for the batch tests.

Importing this module uses torch's thread pool in the importing process, as a
user's session that has run a model would: forked workers that then use several
threads deadlock unless each one limits its threads.
"""

import torch
from spacy.language import Language

torch.set_num_threads(2)
_warm = torch.randn(600, 600)
float((_warm @ _warm).sum())


class TorchProbe:
    def __init__(self) -> None:
        self.weight = torch.ones(400, 400)

    def __call__(self, doc):
        x = torch.full((400, 400), float(len(doc)))
        # Large enough that torch parallelises the product.
        doc.cats["torch_probe"] = float((x @ self.weight)[0, 0]) / 400.0
        if "FAIL_IN_PIPELINE" in doc.text:
            raise RuntimeError("probe asked to fail")
        return doc


@Language.factory("test_torch_probe")
def make_torch_probe(nlp, name):
    return TorchProbe()
