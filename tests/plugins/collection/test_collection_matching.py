"""The matcher on a labelled collection written to disk: precision and recall of automatic
matches, candidates drawn from an index (not all pairs), and owner decisions that stick."""

from __future__ import annotations

from collection_support import ONLY, VaultPlugin, config, vault_of
from tests.support.collection_corpus import generate

from soulspot_collection.matcher import FileEntry, FileIndex, TrackEntry, prepare_track
from soulspot_collection.service import service


def test_precision_and_recall_of_automatic_matches_on_the_labelled_set(make_app, tmp_path):
    corpus = generate(seed=16, tracks=300, extra_files=60)
    music = tmp_path / "music"
    corpus.write(music)
    vault = vault_of(corpus.tracks)
    app = make_app(config(music), only=ONLY, plugins=[("vault", VaultPlugin(vault))])
    with app.app_context():
        outcome = service(app).scan()
        standing = service(app).standing()
        paths = {
            f.id: f.path
            for f in service(app)
            .files_by_id(sorted({fid for _s, fid, *_ in standing.values() if fid is not None}))
            .values()
        }
    assert outcome.scan.seen == len(corpus.files)
    assert outcome.rematch.tracks == len(corpus.tracks)
    truth = corpus.truth_by_path(music)
    auto = {tid: s[1] for tid, s in standing.items() if s[0] == "matched"}
    correct = {tid for tid, fid in auto.items() if truth[paths[fid]] == tid}
    precision = len(correct) / len(auto)
    recall = len(correct) / len(corpus.findable())
    assert precision >= 0.98, [tid for tid in auto if tid not in correct]
    assert recall >= 0.95
    # tracks with no file at all are missing, never matched
    absent = {t.id for t in corpus.tracks} - corpus.findable()
    assert absent and all(standing[t][0] in ("missing", "review") for t in absent)


def test_candidates_come_from_the_index_not_from_every_file():
    corpus = generate(seed=3, tracks=1500, extra_files=500)
    files = [
        FileEntry(n, f.tags.title, f.tags.artist, f.tags.album, f.seconds)
        for n, f in enumerate(corpus.files)
        if f.tags is not None
    ]
    index = FileIndex(files)
    pairs = sum(
        len(index.candidates(prepare_track(TrackEntry(t.id, t.name, t.artists, t.album, 1))))
        for t in corpus.tracks
    )
    assert pairs < 0.02 * len(corpus.tracks) * len(files)
