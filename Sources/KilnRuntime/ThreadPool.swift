import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed set of worker threads that compute the rows of split layers together with the
/// thread running the model: generated code calls the runtime's `parallel_for` callback for each such layer.
///
/// Workers are created once. Between layers they spin on a generation counter, then park on a
/// condition variable once idle for a while, so a model that runs back to back hands each layer
/// over without a system call and an idle one costs no CPU. A run takes no lock unless a worker
/// has parked, and allocates nothing. One model runs on a pool at a time: a layer that finds the
/// pool busy (another model sharing it, on another thread) runs on its caller alone.
///
/// ```swift
/// let pool = ThreadPool(threads: 2)
/// let model = try CompiledModel(contentsOf: url, pool: pool)
/// ```
public final class ThreadPool: @unchecked Sendable {
    /// The C signature of a split layer's task: rows `begin..<end` from the pointers in `context`.
    public typealias Task = @convention(c) (UnsafeMutableRawPointer?, Int64, Int64) -> Void

    /// The threads that share a layer, the caller included.
    public let threadCount: Int

    // The job of the current generation: written by the caller before it publishes the generation,
    // read by workers after they see it.
    private var task: Task?
    private var context: UnsafeMutableRawPointer?
    private var units = 0
    private var granularity = 1
    private var chunks = 0

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let busy = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var workers: [pthread_t] = []

    /// Spins on the generation counter before a worker parks, about a millisecond (pthreadpool,
    /// which XNNPACK uses, spins as long): long enough that workers stay awake through the
    /// unsplit layers between split ones, since waking a parked thread costs tens of microseconds.
    static let spinsBeforeParking = 1_000_000

    /// The most threads a pool takes: beyond this, the layers of the models Kiln targets are
    /// too small to share.
    public static let maximumThreadCount = 16

    /// Creates a pool of `threads` threads, the caller's included (1…``maximumThreadCount``):
    /// `threads − 1` workers start now.
    public init(threads: Int) {
        threadCount = max(1, min(threads, Self.maximumThreadCount))
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for _ in 1..<threadCount {
            // Indices stay consecutive if a thread cannot be created: chunks go to workers that exist.
            let start = Unmanaged.passRetained(WorkerStart(pool: self, index: workers.count + 1)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(
                &thread, nil,
                { argument in
                    guard let argument else { return nil }
                    let start = Unmanaged<WorkerStart>.fromOpaque(argument).takeRetainedValue()
                    start.pool.work(index: start.index)
                    return nil
                }, start)
            if status == 0 {
                workers.append(thread)
            } else {
                Unmanaged<WorkerStart>.fromOpaque(start).release()
            }
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
        for worker in workers { pthread_join(worker, nil) }
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// What a worker thread starts with; the pool outlives its workers (``deinit`` joins them).
    private final class WorkerStart {
        unowned(unsafe) let pool: ThreadPool
        let index: Int
        init(pool: ThreadPool, index: Int) {
            self.pool = pool
            self.index = index
        }
    }

    /// Runs `task` on rows `0..<units` split into one chunk per thread (fewer when there are
    /// fewer blocks of `granularity` rows), each chunk's ends multiples of `granularity`; returns
    /// when every chunk is done.
    public func parallelFor(_ task: Task, context: UnsafeMutableRawPointer?, units: Int, granularity: Int) {
        let step = max(granularity, 1)
        let blocks = (units + step - 1) / step
        let chunks = min(workers.count + 1, blocks)
        guard chunks > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return task(context, 0, Int64(units))
        }
        self.task = task
        self.context = context
        self.units = units
        self.granularity = step
        self.chunks = chunks
        // Every worker acknowledges every job, sharing in it or not: the job's fields are then not
        // rewritten until each worker is done reading them.
        pending.store(workers.count, ordering: .relaxed)
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        runChunk(0)
        while pending.load(ordering: .acquiring) > 0 {}
        busy.store(false, ordering: .releasing)
    }

    /// Rows of chunk `index` of the current job.
    private func runChunk(_ index: Int) {
        guard let task else { return }
        let blocks = (units + granularity - 1) / granularity
        let begin = min(units, blocks * index / chunks * granularity)
        let end = min(units, blocks * (index + 1) / chunks * granularity)
        if end > begin { task(context, Int64(begin), Int64(end)) }
    }

    /// A worker's loop: wait for a new generation, run its chunk, report it done.
    private func work(index: Int) {
        // The generation when the pool was made: a job published before this thread first runs
        // must still be seen as new.
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen, spins < Self.spinsBeforeParking {
                spins += 1
                current = generation.load(ordering: .acquiring)
            }
            if current == seen {
                sleepers.add(1, ordering: .sequentiallyConsistent)
                pthread_mutex_lock(mutex)
                while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(condition, mutex) }
                pthread_mutex_unlock(mutex)
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                current = generation.load(ordering: .sequentiallyConsistent)
            }
            seen = current
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            if index < chunks { runChunk(index) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

/// The `parallel_for` generated multi-threaded entry points call: `pool` is a ``ThreadPool``.
let kilnParallelFor:
    @convention(c) (UnsafeMutableRawPointer?, ThreadPool.Task?, UnsafeMutableRawPointer?, Int64, Int64) -> Void = {
        pool, task, context, units, granularity in
        guard let task else { return }
        guard let pool else { return task(context, 0, units) }
        Unmanaged<ThreadPool>.fromOpaque(pool).takeUnretainedValue().parallelFor(
            task, context: context, units: Int(units), granularity: Int(granularity))
    }
