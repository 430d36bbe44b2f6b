"""Analysis on synthetic spike data with known answers."""

import json

import numpy as np
import pytest

from pynn_microcircuit.analysis.compare import compare, ks_distance
from pynn_microcircuit.analysis.io import export_neo, load_run, to_neo_block
from pynn_microcircuit.analysis.report import analyse, compare_runs, run_statistics
from pynn_microcircuit.analysis.statistics import (
    CORR_SAMPLE,
    correlation_coefficients,
    cv_isi,
    firing_rates,
    population_statistics,
    synchrony,
)
from pynn_microcircuit.analysis.verdicts import DISTRIBUTION_OF, STATISTICS
from pynn_microcircuit.errors import UserError
from pynn_microcircuit.rundir import write_spikes
from pynn_microcircuit.runrecord import RunRecord

T0, T1 = 500.0, 10500.0  # 10 s analysed after 500 ms warm-up


def poisson_population(n, rate_hz, rng, t0=0.0, t1=T1):
    counts = rng.poisson(rate_hz * (t1 - t0) * 1e-3, size=n)
    ids = np.repeat(np.arange(n), counts)
    times = rng.uniform(t0, t1, size=ids.size)
    order = np.argsort(times)
    return ids[order], times[order]


def common_source_population(n, rate_hz, shared_hz, p_copy, rng, t0=0.0, t1=T1):
    """Each neuron copies each spike of one shared Poisson train with probability p_copy, plus
    independent spikes: count correlation rho = p_copy^2 shared_hz / rate_hz (any bin size)."""
    shared = rng.uniform(t0, t1, rng.poisson(shared_hz * (t1 - t0) * 1e-3))
    ids_i, t_i = poisson_population(n, rate_hz - p_copy * shared_hz, rng, t0, t1)
    keep = rng.random((n, shared.size)) < p_copy
    ids_s = np.nonzero(keep)[0]
    t_s = np.broadcast_to(shared, keep.shape)[keep]
    ids = np.concatenate([ids_i, ids_s])
    times = np.concatenate([t_i, t_s])
    order = np.argsort(times)
    return ids[order], times[order]


def test_poisson_known_answers():
    rng = np.random.default_rng(1)
    ids, times = poisson_population(1000, 8.0, rng)
    rates = firing_rates(ids, times, 1000, T0, T1)
    assert rates.mean() == pytest.approx(8.0, rel=0.03)
    cv = cv_isi(ids, times)
    assert abs(cv.mean() - 1.0) < 0.05
    cc = correlation_coefficients(ids, times, T0, T1, seed=3)
    m = min(CORR_SAMPLE, 1000)  # the sampled spiking neurons (all 1000 spike)
    assert cc.size == m * (m - 1) // 2
    assert abs(cc.mean()) < 0.01
    assert synchrony(ids, times, 1000, T0, T1) == pytest.approx(1.0, abs=0.1)


def test_common_source_correlation_recovered():
    rng = np.random.default_rng(2)
    rho = 0.3**2 * 20.0 / 10.0  # 0.18
    ids, times = common_source_population(300, 10.0, 20.0, 0.3, rng)
    cc = correlation_coefficients(ids, times, T0, T1, seed=4)
    assert cc.mean() == pytest.approx(rho, rel=0.2)


def test_split_half_noise_matches_independent_samples():
    """The within-sample estimate of the KS noise equals the mean KS of independent samples."""
    from pynn_microcircuit.analysis.statistics import ks_distance, split_half_ks

    rng = np.random.default_rng(11)
    direct = np.mean([ks_distance(rng.normal(size=2000), rng.normal(size=2000)) for _ in range(50)])
    within = np.mean([split_half_ks(rng.normal(size=2000), rng) for _ in range(20)])
    assert within == pytest.approx(direct, rel=0.15)  # 50 + 160 KS draws: ~5 % sd each


def test_cv_of_regular_trains_is_zero():
    ids = np.repeat(np.arange(5), 20)
    times = np.tile(np.arange(20) * 10.0, 5)
    np.testing.assert_allclose(cv_isi(ids, times), 0.0, atol=1e-9)


def _stats(ids, times, n):
    from pynn_microcircuit.analysis.io import PopulationSpikes

    return {"L23E": population_statistics(PopulationSpikes("L23E", n, n, ids, times), T0, T1)}


def test_compare_verdicts():
    rng = np.random.default_rng(5)
    refs = [_stats(*poisson_population(800, 5.0, rng), 800) for _ in range(3)]
    same = _stats(*poisson_population(800, 5.0, rng), 800)
    shifted = _stats(*poisson_population(800, 6.5, rng), 800)  # +30 % rate
    assert ks_distance(same["L23E"]["rates_hz"], same["L23E"]["rates_hz"]) == 0.0
    ok = compare(same, refs)["L23E"]
    assert ok["rates_hz"]["verdict"] == "consistent"
    assert ok["cv_isi"]["verdict"] == "consistent"
    bad = compare(shifted, refs)["L23E"]
    assert bad["rates_hz"]["verdict"] == "differs" and bad["rates_hz"]["ratio"] > 2
    # two references give one seed pair; the sampling-noise floor keeps that spread honest
    two = compare(same, refs[:2])["L23E"]
    for stat in ("rates_hz", "cv_isi", "correlations", "synchrony"):
        assert two[stat]["spread"] >= two[stat]["noise_floor"] > 0
        assert two[stat]["verdict"] == "consistent", stat
    assert compare(shifted, refs[:2])["L23E"]["rates_hz"]["verdict"] == "differs"
    single = compare(same, refs[:1])["L23E"]
    assert single["rates_hz"]["verdict"] == "no-spread" and single["rates_hz"]["spread"] is None


def make_run(path, seed, rate=5.0, n=400, t_sim=2000.0):
    """A run directory in the package's format from synthetic Poisson spikes."""
    rng = np.random.default_rng(seed)
    path.mkdir()
    pops = {
        "L23E": poisson_population(n, rate, rng, 500.0, 500.0 + t_sim),
        "L23I": poisson_population(n // 4, 2 * rate, rng, 500.0, 500.0 + t_sim),
    }
    sizes = {"L23E": n, "L23I": n // 4}
    write_spikes(path / "spikes.h5", pops, sizes)
    RunRecord(
        platform="synthetic",
        n_scale=1.0,
        k_scale=1.0,
        method="n",
        seed=seed,
        resolution_ms=0.1,
        t_presim_ms=500.0,
        t_sim_ms=t_sim,
        simulated=True,
        populations={k: {"n_neurons": sizes[k], "n_recorded": sizes[k]} for k in pops},
    ).write(path)
    return path


def test_analyse_and_compare_run_directories(tmp_path):
    runs = [make_run(tmp_path / f"r{s}", s) for s in range(5)]
    before = {p.name: p.read_bytes() for p in runs[0].iterdir()}
    out = analyse(runs[0])
    assert (out / "report.html").is_file() and (out / "raster.png").is_file()
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert {p.name: p.read_bytes() for p in runs[0].iterdir() if p.is_file()} == before
    assert analyse(runs[0]).name == "analysis_2"  # never overwritten
    cmp_dir, result = compare_runs(runs[1], runs[2:])
    saved = json.loads((cmp_dir / "comparison.json").read_text())
    assert saved["distances"] and saved["alpha"] == 0.05
    assert saved["control"] == "fwer (Holm)"  # the default, named in the file
    assert "family-wise false-alarm rate of 0.05" in (cmp_dir / "report.html").read_text()
    # 2 synthetic populations, not PD14: the generic prior, one scale for both sides
    assert saved["overdispersion_prior"]["reference"] == "generic"
    assert saved["overdispersion_prior"]["test"] is None
    flat = saved["cells"]  # machine readable: one object per population x statistic
    assert {(c["population"], c["statistic"]) for c in flat} == {
        (p, s) for p in ("L23E", "L23I") for s in STATISTICS
    }
    for c in flat:  # same Poisson model: consistent, with a stated p and detectable effect
        if c["statistic"] in ("correlation_rescaled", "synchrony_rescaled"):  # equal n
            assert saved["correlation_rescale"] == 1.0
        assert c["variance_source"]["test"].startswith("single run, prior the references'")
        assert c["variance_source"]["reference"].startswith("ensemble of 3 seeds, prior generic")
        assert c["verdict"] == "consistent", c
        assert 0 <= c["p_value"] <= c["p_adjusted"] <= 1 and c["min_detectable_effect"] > 0
        if c["statistic"] == "synchrony":  # the time a given effect needs (correlations ~0)
            assert c["t_needed_s"] > 0 and c["detect_effect"] == 0.2
        if c["statistic"] in DISTRIBUTION_OF:  # KS computed once, by compare()
            assert c["ks"] == result[c["population"]][DISTRIBUTION_OF[c["statistic"]]]["distance"]
    assert all(
        c["verdict"] == "consistent"
        for row in result.values()
        for s, c in row.items()
        if s in ("rates_hz", "cv_isi")
    )


def test_compare_a_test_ensemble_and_refuse_self_or_twice(tmp_path):
    """Several test runs are a test ensemble with its own seed-to-seed variance; a test run
    among the references, or a reference given twice, is refused in one line."""
    from pynn_microcircuit.errors import UserError

    runs = [make_run(tmp_path / f"r{s}", s) for s in range(5)]
    cmp_dir, _ = compare_runs(runs[:2], runs[2:])
    saved = json.loads((cmp_dir / "comparison.json").read_text())
    assert saved["tests"] == [str(r) for r in runs[:2]] and len(saved["references"]) == 3
    rate = next(c for c in saved["cells"] if c["statistic"] == "rate")
    assert rate["n_tests"] == 2 and rate["variance_source"]["test"].startswith("ensemble of 2")
    assert rate["verdict"] == "consistent"
    with pytest.raises(UserError, match="is both tested and a reference"):
        compare_runs(runs[0], runs[:3])
    with pytest.raises(UserError, match="is given twice"):
        compare_runs(runs[0], [runs[1], runs[2], tmp_path / "r1"])


def test_neo_export_annotated(tmp_path):
    run = load_run(make_run(tmp_path / "r", 1, n=40))
    block = to_neo_block(run, max_per_population=5)
    seg = block.segments[0]
    assert len(seg.spiketrains) == 5 * len(run.populations)
    assert [g.name for g in block.groups] == list(run.populations)
    st = block.groups[0].spiketrains[3]
    assert st.annotations == {"population": "L23E", "node_id": 3}
    pop = run.populations["L23E"]
    assert len(st) == np.count_nonzero(pop.ids == 3)


@pytest.mark.parametrize("fmt", ["nix", "mat"])
def test_neo_file_export_reads_back(tmp_path, fmt):
    import neo

    run = load_run(make_run(tmp_path / "r", 1, n=40))
    out = export_neo(run, tmp_path / f"sub.{fmt}", fmt, max_per_population=7)
    if fmt == "nix":
        with neo.io.NixIO(str(out), mode="ro") as nio:
            block = nio.read_block()
    else:
        block = neo.io.NeoMatlabIO(str(out)).read_block()
    trains = block.segments[0].spiketrains
    assert len(trains) == 7 * len(run.populations)
    pop = run.populations["L23E"]
    counts = sorted(len(st) for st in trains[:7])
    assert counts == sorted(np.count_nonzero(pop.ids == i) for i in range(7))
    with pytest.raises(UserError, match="exists; choose another --out"):
        export_neo(run, out, fmt)


def test_bad_inputs(tmp_path):
    run = make_run(tmp_path / "r", 1)
    (run / "spikes.h5").write_bytes((run / "spikes.h5").read_bytes()[:200])  # truncated
    with pytest.raises(UserError, match="truncated or not HDF5"):
        load_run(run)
    other = make_run(tmp_path / "o", 2)
    meta = json.loads((other / "run.json").read_text())
    meta["format_version"] = 99
    (other / "run.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="format_version 99"):
        load_run(other)
    with pytest.raises(UserError, match="not a run directory"):
        load_run(tmp_path)
    a = make_run(tmp_path / "a", 3, t_sim=1000.0)
    b = make_run(tmp_path / "b", 4, t_sim=2000.0)
    with pytest.raises(UserError, match="equal duration"):
        compare_runs(a, [b])


def test_run_statistics_on_synthetic_run(tmp_path):
    run = load_run(make_run(tmp_path / "r", 7, rate=4.0, n=1000))
    stats = run_statistics(run)
    assert stats["L23E"]["rates_hz"].mean() == pytest.approx(4.0, rel=0.05)
    assert stats["L23I"]["rates_hz"].mean() == pytest.approx(8.0, rel=0.05)


def test_rescaled_mean_correlation_follows_the_1_over_n_law():
    """An N-scaled run whose mean correlation is the reference's / n is consistent once
    rescaled, and differs without the rescaling."""
    rng = np.random.default_rng(8)
    n = 0.25

    def stats_with(rho, seed):
        ids, times = common_source_population(300, 10.0, 20.0, np.sqrt(rho / 2), rng)
        return _stats(ids, times, 300)

    refs = [stats_with(0.02, s) for s in range(2)]
    test = stats_with(0.02 / n, 9)
    res = compare(test, refs, correlation_scale=n)["L23E"]
    assert res["correlations_rescaled"]["verdict"] == "consistent"
    assert res["correlations"]["verdict"] == "differs"


def test_correlation_rescale_does_not_touch_other_floors():
    from pynn_microcircuit.analysis.compare import noise_floor

    t = {"noise": {"synchrony_sem": 0.1, "pooled_correlation_sem": 0.01}}
    r = [{"noise": {"synchrony_sem": 0.1, "pooled_correlation_sem": 0.01}}]
    assert noise_floor("synchrony", t, r, scale=0.05) == pytest.approx(1.96 * 0.1 * 2**0.5)
    assert noise_floor("correlations_rescaled", t, r, scale=0.5) == pytest.approx(
        1.96 * (0.005**2 + 0.01**2) ** 0.5
    )


def test_spectrum_distance_compares_shapes_not_the_1_over_n_level():
    from pynn_microcircuit.analysis.compare import spectrum_distance

    f = np.linspace(0, 500, 251)
    psd = 1 + 5 * np.exp(-(((f - 80) / 10) ** 2))  # a gamma peak on a flat floor
    assert spectrum_distance((f, psd), (f, 10 * psd)) == pytest.approx(0, abs=1e-12)
    assert spectrum_distance((f, psd), (f, np.ones_like(f))) > 0.1  # the peak is seen


def test_import_inm6_output(tmp_path):
    """The INM-6 example's NEST ASCII files become a run directory with the same spikes."""
    from pynn_microcircuit.analysis.importers import import_inm6
    from pynn_microcircuit.analysis.io import load_run
    from pynn_microcircuit.params import Params

    src = tmp_path / "data"
    src.mkdir()
    sizes = [max(1, round(0.01 * n)) for n in Params().n_full]
    first = np.cumsum([1, *sizes[:-1]])
    (src / "population_nodeids.dat").write_text(
        "".join(f"{a} {a + s - 1}\n" for a, s in zip(first, sizes))
    )
    rng = np.random.default_rng(3)
    truth = {}
    for i, (a, s) in enumerate(zip(first, sizes)):
        senders = rng.integers(a, a + s, 50)
        times = np.round(rng.uniform(0, 1500, 50), 1)
        truth[i] = (senders, times)
        with open(src / f"spike_recorder-{77170 + i}-{i % 2}.dat", "w") as fh:
            fh.write("# NEST version: 3.10.0\n# RecordingBackendASCII\nsender\ttime_ms\n")
            fh.writelines(f"{g}\t{t:.1f}\n" for g, t in zip(senders, times))
    run_dir = import_inm6(src, tmp_path / "imported", 500.0, 1000.0)
    run = load_run(run_dir)
    assert run.meta["n_scale"] == pytest.approx(0.01, rel=0.05)
    for i, pop in enumerate(run.populations.values()):
        senders, times = truth[i]
        keep = times >= 500
        assert sorted(zip(pop.times.tolist(), pop.ids.tolist())) == sorted(
            zip(times[keep].tolist(), (senders[keep] - first[i]).tolist())
        )
    with pytest.raises(UserError, match="not an INM-6 PD14 output folder"):
        import_inm6(tmp_path, None, 500.0, 1000.0)
    with open(src / "spike_recorder-77170-0.dat", "a") as fh:  # a corrupt spike file
        fh.write("12\tnot-a-time\n")
    with pytest.raises(UserError, match="spike_recorder-77170-0.dat' has a line that is not"):
        import_inm6(src, tmp_path / "again", 500.0, 1000.0)
    assert not (tmp_path / "again").exists()


def test_run_record_round_trip_and_one_line_errors(tmp_path):
    """run.json is written and read by RunRecord only: platform entries come back as details,
    a foreign format version, a missing common field or a wrongly typed one is refused in one
    line naming it."""
    import json

    from pynn_microcircuit.runrecord import RunRecord

    rec = RunRecord(platform="nest", simulated=True, n_scale=0.1, k_scale=0.1, method="n",
                    resolution_ms=0.1, t_presim_ms=500.0, t_sim_ms=1000.0,
                    populations={"E": {"n_neurons": 10}}, seed=3, details={"threads": 2})  # fmt: skip
    rec.write(tmp_path)
    flat = json.loads((tmp_path / "run.json").read_text())
    assert flat["format_version"] == 1 and flat["threads"] == 2 and "details" not in flat
    assert RunRecord.read(tmp_path) == rec
    with pytest.raises(ValueError, match="repeat common"):
        RunRecord(**{**rec.__dict__, "details": {"seed": 4}}).to_dict()
    for change, message in (
        ({"format_version": 2}, "has format_version 2, this version reads 1"),
        ({"t_sim_ms": None}, "t_sim_ms is None, not a float"),
        ({"simulated": "yes"}, "simulated is 'yes', not a bool"),
    ):
        (tmp_path / "run.json").write_text(json.dumps({**flat, **change}))
        with pytest.raises(UserError, match=message):
            RunRecord.read(tmp_path)
    del flat["populations"]
    (tmp_path / "run.json").write_text(json.dumps(flat))
    with pytest.raises(UserError, match="lacks populations"):
        RunRecord.read(tmp_path)


def test_pooled_correlation_and_its_jackknife_error():
    """The population-averaged correlation equals averaged covariance / averaged variance of
    the binned counts (computed here by brute force), and its jackknife standard error
    matches the spread of the statistic over independent realisations (within 20 %: 120
    realisations estimate a standard deviation to about 7 %)."""
    from pynn_microcircuit.analysis.statistics import pooled_correlation, pooled_correlation_sem

    def realisation(rng, n=40, t=4000.0):
        common = rng.uniform(0, t, 400)  # shared events, each copied to a neuron w.p. 0.2
        ids, times = [], []
        for i in range(n):
            own = np.r_[rng.uniform(0, t, rng.poisson(60)), common[rng.random(400) < 0.2]]
            ids.append(np.full(own.size, i))
            times.append(own + rng.normal(0, 1.0, own.size))  # 1 ms jitter
        ids, times = np.concatenate(ids), np.concatenate(times)
        keep = (times >= 0) & (times < t)
        return ids[keep], times[keep], n, t

    rng = np.random.default_rng(7)
    ids, times, n, t = realisation(rng)
    counts = np.zeros((n, int(t / 2)))
    np.add.at(counts, (ids, (times // 2).astype(int)), 1)
    cov = np.cov(counts, bias=True)
    brute = (cov.sum() - np.trace(cov)) / ((n - 1) * np.trace(cov))
    assert pooled_correlation(ids, times, n, 0.0, t) == pytest.approx(brute, rel=1e-9)
    values, sems = [], []
    for _ in range(120):
        ids, times, n, t = realisation(rng)
        values.append(pooled_correlation(ids, times, n, 0.0, t))
        sems.append(pooled_correlation_sem(ids, times, n, 0.0, t))
    assert np.mean(sems) == pytest.approx(np.std(values, ddof=1), rel=0.2)


def test_verdict_map_shows_the_calibrated_verdicts(tmp_path):
    """verdicts.png colours each cell by the verdict the table gives (not by the descriptive
    distance ratio, which has no error rate): a run firing 30 % faster than its references
    is red in its rate cells; the share of red among the cells' pixels is the share of
    'differs' among the cells (3 of 8 here: 0.3752 measured)."""
    import matplotlib.image as mpimg

    runs = [make_run(tmp_path / f"r{s}", s) for s in range(3)]
    fast = make_run(tmp_path / "fast", 7, rate=6.5)
    cmp_dir, _ = compare_runs(fast, runs)
    cells = json.loads((cmp_dir / "comparison.json").read_text())["cells"]
    shown = [c for c in cells if not c["statistic"].endswith("_rescaled")]  # law factor 1
    differs = {(c["population"], c["statistic"]) for c in shown if c["verdict"] == "differs"}
    assert {("L23E", "rate"), ("L23I", "rate")} <= differs
    img = (mpimg.imread(cmp_dir / "verdicts.png")[..., :3] * 255).round().astype(int)
    red = np.all(img == (215, 48, 39), axis=-1).sum()  # VERDICT_COLOURS["differs"]
    green = np.all(img == (166, 217, 106), axis=-1).sum()  # "consistent"
    n_consistent = sum(c["verdict"] == "consistent" for c in shown)
    assert n_consistent + len(differs) == len(shown) == 8
    assert red / (red + green) == pytest.approx(len(differs) / len(shown), abs=0.03)
    assert (cmp_dir / "distances.png").is_file()


def test_one_reference_gives_verdicts_and_says_what_they_cost(tmp_path, caplog):
    """With one reference the verdicts exist (variance from the prior alone; measured
    conservative by benchmarks/compare_few_references.py) and the warning says so, instead
    of claiming that only distances are reported."""
    a, b = make_run(tmp_path / "a", 1), make_run(tmp_path / "b", 2)
    with caplog.at_level("WARNING"):
        cmp_dir, _ = compare_runs(a, [b])
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "one reference run" in said and "prior alone" in said and "distances only" not in said
    cells = json.loads((cmp_dir / "comparison.json").read_text())["cells"]
    assert all(c["verdict"] == "consistent" and c["p_value"] is not None for c in cells)


def test_export_into_a_missing_folder_is_one_line(tmp_path):
    from pynn_microcircuit.errors import UserError

    run = load_run(make_run(tmp_path / "r", 1, n=40))
    with pytest.raises(UserError, match="does not exist; create it or choose another --out"):
        export_neo(run, tmp_path / "no" / "such" / "x.nix", "nix")
    assert not (tmp_path / "no").exists()


def test_spike_file_write_failure_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    import h5py

    from pynn_microcircuit.errors import UserError

    real = h5py.File

    def full_disk(path, mode="r", **kw):
        f = real(path, mode, **kw)
        f.close()  # the file exists, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(h5py, "File", full_disk)
    with pytest.raises(UserError, match=r"could not write .*No space left on device; .* MiB free"):
        write_spikes(tmp_path / "spikes.h5", {"P": (np.array([0]), np.array([1.0]))}, {"P": 1})
    assert list(tmp_path.iterdir()) == []
