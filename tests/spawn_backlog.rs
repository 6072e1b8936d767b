//! Back-pressure on a spawner: a G that spawns in a loop without waiting is held back
//! while the Gs it queued have not run, so their headers are reused instead of piling up.
//! A file of its own: `stats().g_headers` is a peak over the whole process.

use gogreen::sync::WaitGroup;

#[test]
fn a_spawning_loop_reuses_headers() {
    const N: usize = 200_000;
    gogreen::run(|| {
        let wg = WaitGroup::new();
        wg.add(N);
        for _ in 0..N {
            let wg = wg.clone();
            gogreen::spawn(move || wg.done());
        }
        wg.wait();
    });
    // Without back-pressure, with one P, all N are queued before the first runs. With
    // it, a spawner waits behind a backlog of 512 on the global queue plus what the
    // rings hold (256 a P).
    let headers = gogreen::stats().g_headers;
    assert!(
        headers < N / 10,
        "{headers} G headers for {N} spawns that never wait: the spawner was not held back"
    );
}
