//! CPU-bound work over many items, split over the machine's cores: the plan's unchanged test
//! and the loader's YAML parsing are most of their step's time for thousands of objects.

/// `work` of each item, in order: on scoped threads, one slice each, when there are at least
/// `parallel_from` items and more than one core; on this thread otherwise (starting threads
/// costs more than small inputs save). No thread gets fewer than half of `parallel_from` items,
/// however many cores there are. A panic in `work` resumes here.
pub fn map_in_parallel<T: Sync, R: Send>(
    items: &[T],
    parallel_from: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = cores.min(items.len() / (parallel_from / 2).max(1));
    if threads < 2 || items.len() < parallel_from.max(2) {
        return items.iter().map(work).collect();
    }
    let work = &work;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_of_the_items_on_and_off_threads() {
        let items: Vec<u32> = (0..1_000).collect();
        let doubled: Vec<u32> = items.iter().map(|n| n * 2).collect();
        assert_eq!(map_in_parallel(&items, 10, |n| n * 2), doubled);
        assert_eq!(map_in_parallel(&items, 10_000, |n| n * 2), doubled);
        assert_eq!(map_in_parallel(&items[..1], 0, |n| n * 2), [0]);
        assert!(map_in_parallel(&[] as &[u32], 0, |n| n * 2).is_empty());
    }
}
