// A stress program for KilnRuntime's ThreadPool, compiled by ThreadPoolSanitizerTests together
// with Sources/KilnRuntime/ThreadPool.swift under ThreadSanitizer: every round must write each
// row exactly once, across pools of several sizes, jobs of every shape, workers that park and
// wake, and two threads sharing one pool. Exits 1 with a message on a wrong row.
import Foundation

/// Adds 1 to each element of rows `begin..<end` of an `Int64` buffer.
let increment: ThreadPool.Task = { context, begin, end in
    guard let rows = context?.assumingMemoryBound(to: Int64.self) else { return }
    for row in Int(begin)..<Int(end) { rows[row] += 1 }
}

func check(_ rows: UnsafeMutablePointer<Int64>, count: Int, expected: Int64, _ context: String) {
    for row in 0..<count where rows[row] != expected {
        FileHandle.standardError.write(Data("row \(row) is \(rows[row]), expected \(expected): \(context)\n".utf8))
        exit(1)
    }
}

/// `rounds` jobs of varying size on `pool`, each row incremented once per job.
func stress(_ pool: ThreadPool, rounds: Int, seed: Int, parking: Bool) {
    let capacity = 5000
    let rows = UnsafeMutablePointer<Int64>.allocate(capacity: capacity)
    defer { rows.deallocate() }
    var state = UInt64(seed)
    for round in 0..<rounds {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let units = Int(state >> 33) % capacity + 1
        let granularity = Int(state >> 20) % 9 + 1
        rows.initialize(repeating: 0, count: units)
        pool.parallelFor(increment, context: UnsafeMutableRawPointer(rows), units: units, granularity: granularity)
        check(rows, count: units, expected: 1, "pool of \(pool.threadCount), round \(round), \(units) rows by \(granularity)")
        // Now and then idle long enough for the workers to park, so waking them is exercised.
        if parking, round % 50 == 49 { usleep(5000) }
    }
}

for threads in [2, 3, 4] {
    let pool = ThreadPool(threads: threads)
    stress(pool, rounds: 400, seed: threads, parking: true)
}

// Two threads sharing one pool: one runs on it, the other's jobs find it busy and run alone.
let shared = ThreadPool(threads: 3)
let group = DispatchGroup()
for seed in [11, 12] {
    group.enter()
    Thread.detachNewThread {
        stress(shared, rounds: 300, seed: seed, parking: false)
        group.leave()
    }
}
group.wait()
print("thread pool stress: ok")
