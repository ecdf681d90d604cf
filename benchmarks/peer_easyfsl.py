"""Peer run: spectfsl's PrototypicalClassifier next to easyfsl's PrototypicalNetworks.

Both get the very same ResNet-18 embedding (one module object), the same support set and the same
queries. Their predictions must agree (nearest prototype; easyfsl scores by negative Euclidean
distance, spectfsl by softmax over negative squared distances: the same order). Throughput is
queries per second from the median of repeated calls: spectfsl classifies against prototypes
stored once (what a bank holds); easyfsl, as used in its episodic evaluation, processes the support
set again for each batch of queries.

    python benchmarks/peer_easyfsl.py [--size 64] [--queries 256] [--shots 5] [--repeats 7] [--json]

Appends the result, with provenance, to `benchmarks/results/peer-easyfsl.jsonl` (with --json: prints it
only).

easyfsl is a benchmark-only dependency (in the `dev` extra), never a runtime one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch


def median_seconds(call, repeats: int) -> float:
    call()  # warm-up
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def run(size: int, queries: int, shots: int, repeats: int, seed: int = 0) -> dict:
    from easyfsl.methods import PrototypicalNetworks

    from spectfsl.core.proto.backbones import create_model
    from spectfsl.core.proto.prototypes import PrototypicalClassifier

    torch.manual_seed(seed)
    backbone = create_model("resnet18").eval()
    classes = ["myocardium", "ventricles", "liver"]
    rng = np.random.default_rng(seed)
    # three classes that differ in mean intensity and texture, so the nearest prototype is not a tie
    support = np.concatenate([rng.random((shots, size, size)) * (0.5 + c) for c in range(len(classes))])
    support = support.astype(np.float32)
    support_labels = [name for name in classes for _ in range(shots)]
    query_images = (rng.random((queries, size, size)) * rng.choice([0.5, 1.5, 2.5], (queries, 1, 1))).astype(np.float32)

    ours = PrototypicalClassifier(backbone, classes, transform="none", input_size=size).fit(support, support_labels)
    peer = PrototypicalNetworks(backbone).eval()
    support_tensor = torch.from_numpy(support)[:, None]
    label_tensor = torch.tensor([classes.index(name) for name in support_labels])
    query_tensor = torch.from_numpy(query_images)[:, None]

    def ours_predict() -> torch.Tensor:
        return ours.predict(query_images).probabilities.argmax(dim=1)

    def peer_predict() -> torch.Tensor:
        with torch.inference_mode():
            peer.process_support_set(support_tensor, label_tensor)
            return peer(query_tensor).argmax(dim=1)

    agree = float((ours_predict() == peer_predict()).float().mean())
    ours_s, peer_s = median_seconds(ours_predict, repeats), median_seconds(peer_predict, repeats)
    return {
        "size": size,
        "queries": queries,
        "support_per_class": shots,
        "threads": torch.get_num_threads(),
        "agreement": agree,
        "spectfsl_queries_per_s": queries / ours_s,
        "easyfsl_queries_per_s": queries / peer_s,
        "ratio": peer_s / ours_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--queries", type=int, default=256)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the result as JSON only (results file untouched)")
    arguments = parser.parse_args()
    result = run(arguments.size, arguments.queries, arguments.shots, arguments.repeats)
    if arguments.json:
        print(json.dumps(result))
    else:
        from provenance import append_result, provenance

        append_result("peer-easyfsl", {**provenance(), "settings": vars(arguments), **result})
    if result["agreement"] < 1.0:
        raise SystemExit(f"predictions disagree on {1 - result['agreement']:.1%} of queries")


if __name__ == "__main__":
    main()
