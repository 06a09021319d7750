"""Large-output heads: exactness of the hierarchical softmax, gradients, convergence
of the sampled losses to the known answer, serialisation and bad input."""

import math

import pytest
import torch

from tsunagu.heads import (HEADS, HeadError, HierarchicalSoftmax, Head, balanced_paths,
                           huffman_paths, make_head)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # Tiny tensors: one thread avoids thread-pool overhead (and contention on 2 cores).
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _brute_force_hs(head: HierarchicalSoftmax, hidden: torch.Tensor, tree_paths) -> torch.Tensor:
    """p(c|h) by walking each class's path one node at a time."""
    paths, signs = tree_paths
    out = torch.zeros(hidden.shape[0], head.n_classes, dtype=hidden.dtype)
    for b in range(hidden.shape[0]):
        for c in range(head.n_classes):
            logp = 0.0
            for node, sign in zip(paths[c], signs[c]):
                score = float(hidden[b] @ head.weight[node].detach() + head.bias[node, 0].detach())
                logp += math.log(1 / (1 + math.exp(-sign * score)))
            out[b, c] = logp
    return out


@pytest.mark.parametrize("tree", ["huffman", "balanced"])
def test_hierarchical_softmax_is_exact(tree):
    counts = [50, 1, 3, 7, 20, 2, 2, 9, 30, 4, 1]
    head = HierarchicalSoftmax(6, len(counts), counts, tree=tree, chunk=4).double()
    with torch.no_grad():
        head.weight.normal_()
        head.bias.normal_()
    hidden = torch.randn(3, 6, dtype=torch.float64)
    log_prob = head.log_prob(hidden)
    assert torch.allclose(log_prob.exp().sum(1), torch.ones(3, dtype=torch.float64))
    paths = huffman_paths(counts) if tree == "huffman" else balanced_paths(len(counts))
    assert torch.allclose(log_prob, _brute_force_hs(head, hidden, paths))
    target = torch.tensor([0, 5, 10])
    assert torch.allclose(head.loss(hidden, target), -log_prob[torch.arange(3), target].mean())
    assert torch.allclose(head.log_prob_of(hidden, target), log_prob[torch.arange(3), target])


def test_huffman_tree_gives_frequent_classes_short_paths():
    counts = [1000, 500, 100, 50, 10, 5, 1, 1]
    paths, _ = huffman_paths(counts)
    lengths = [len(p) for p in paths]
    assert lengths[0] == 1 and lengths == sorted(lengths)
    # Kraft equality: a full binary tree over the classes.
    assert sum(2.0 ** -n for n in lengths) == pytest.approx(1.0)
    balanced, _ = balanced_paths(1000)
    assert max(len(p) for p in balanced) == math.ceil(math.log2(1000))


@pytest.mark.parametrize("tree", ["huffman", "balanced"])
def test_top_down_tree_log_prob_equals_the_heads(tree):
    torch.manual_seed(0)
    counts = 1.0 / torch.arange(1, 98, dtype=torch.float64)
    head = make_head("hierarchical", 8, 97, counts=counts, tree=tree)
    with torch.no_grad():
        head.weight.normal_()
        head.bias.normal_()
    hidden = torch.randn(5, 8)
    fast = head.predict_log_prob(hidden)
    assert torch.allclose(fast, head.log_prob(hidden), atol=1e-5)
    assert torch.allclose(fast.exp().sum(1), torch.ones(5), atol=1e-5)


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_gradients(kind):
    """Analytic gradients of each loss against finite differences (samples fixed by
    re-seeding before every evaluation)."""
    counts = torch.tensor([5.0, 3, 8, 1, 2, 9, 4])
    head = make_head(kind, 4, 7, counts=counts).double()
    with torch.no_grad():
        for p in head.parameters():
            p.normal_(std=0.5)
    hidden = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 3, 6])
    params = [p for p in head.parameters() if p.requires_grad]

    def loss(h, *weights):
        for p, w in zip(params, weights):
            p.data = w.data
        torch.manual_seed(1)
        return head.loss(h, target)

    assert torch.autograd.gradcheck(lambda h: loss(h, *[p.detach() for p in params]), (hidden,))
    # parameters: compare autograd with finite differences on the loss
    torch.manual_seed(1)
    head.zero_grad()
    head.loss(hidden.detach(), target).backward()
    for p in params:
        eps, flat = 1e-6, p.data.view(-1)
        for i in range(0, flat.numel(), max(1, flat.numel() // 5)):
            old = float(flat[i])
            flat[i] = old + eps
            torch.manual_seed(1)
            up = float(head.loss(hidden.detach(), target))
            flat[i] = old - eps
            torch.manual_seed(1)
            down = float(head.loss(hidden.detach(), target))
            flat[i] = old
            assert p.grad.view(-1)[i] == pytest.approx((up - down) / (2 * eps), abs=1e-6)


@pytest.mark.parametrize("kind,options", [
    ("full", {}), ("hierarchical", {}), ("hierarchical", {"tree": "balanced"}),
    ("negative", {"n_samples": 10}), ("nce", {"n_samples": 20}), ("sampled", {"n_samples": 20}),
])
def test_each_head_learns_the_known_distribution(kind, options):
    """Contexts x with one-hot hidden vectors and known p(c|x); after training,
    log_prob must be close to the truth, as the full softmax's is (KL about 0.005;
    sampled softmax keeps a small bias at finite K, about 0.02). Without its noise
    correction in log_prob, negative sampling stays at KL 0.07-0.08 here."""
    n_contexts, n_classes = 4, 12
    truth = torch.distributions.Dirichlet(torch.full((n_classes,), 0.7)).sample((n_contexts,))
    counts = truth.mean(0) * 1000
    head = make_head(kind, n_contexts, n_classes, counts=counts, **options)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    eye = torch.eye(n_contexts)
    for step in range(400):
        x = torch.randint(0, n_contexts, (256,))
        y = torch.multinomial(truth[x], 1).squeeze(1)
        optimizer.zero_grad()
        head.loss(eye[x], y).backward()
        optimizer.step()
    with torch.no_grad():
        learned = head.log_prob(eye)
    kl = (truth * (truth.clamp(min=1e-12).log() - learned)).sum(1).mean()
    assert kl < 0.03, f"{kind}: KL(truth || learned) = {kl:.3f}"


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_round_trip_on_disk(kind, tmp_path):
    head = make_head(kind, 8, 30, counts=torch.arange(1, 31).float())
    with torch.no_grad():
        for p in head.parameters():
            p.normal_()
    hidden = torch.randn(2, 8)
    head.to_disk(tmp_path / "head.pt")
    again = Head.from_disk(tmp_path / "head.pt")
    assert type(again) is type(head) and again.options == head.options
    assert torch.allclose(again.log_prob(hidden), head.log_prob(hidden))
    target = torch.tensor([3, 29])
    assert torch.allclose(head.log_prob_of(hidden, target), head.log_prob(hidden)[torch.arange(2), target])


def test_bad_input_is_named(tmp_path):
    with pytest.raises(HeadError, match="Unknown head 'softmax'"):
        make_head("softmax", 8, 10)
    with pytest.raises(HeadError, match="Huffman tree needs class counts"):
        make_head("hierarchical", 8, 10)
    with pytest.raises(HeadError, match="counts has 3 entries for 10 classes"):
        make_head("negative", 8, 10, counts=[1, 2, 3])
    with pytest.raises(HeadError, match="n_classes must be an integer >= 2"):
        make_head("full", 8, 1)
    with pytest.raises(HeadError, match="Bad options for the full head"):
        make_head("full", 8, 10, n_samples=3)
    head = make_head("negative", 8, 10)
    with pytest.raises(HeadError, match=r"hidden must have shape \(batch, 8\)"):
        head.loss(torch.randn(4, 7), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(HeadError, match=r"target classes must be in \[0, 10\)"):
        head.loss(torch.randn(2, 8), torch.tensor([1, 10]))
    with pytest.raises(HeadError, match="integer tensor"):
        head.loss(torch.randn(2, 8), torch.tensor([1.0, 2.0]))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(HeadError, match="not a tsunagu head file or is corrupt"):
        Head.from_disk(bad)
    with pytest.raises(HeadError, match="not found"):
        Head.from_disk(tmp_path / "missing.pt")
