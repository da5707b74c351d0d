// A stress program for KilnRuntime, compiled by RuntimeSanitizerTests together with every source
// of Sources/KilnRuntime under ThreadSanitizer.
//
// The thread pool: every round must write each row exactly once, across pools of several sizes,
// jobs of every shape, workers that park and wake, and two threads sharing one pool.
//
// With an artifact's path as its argument, one CompiledModel on a pool of 2 threads is also run
// by 4 threads at once (runs on one model take turns), through the pointer and the array APIs;
// each must give the bytes a serial run gives. Exits 1 with a message on a wrong result.
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

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
    exit(1)
}

if CommandLine.arguments.count > 1 {
    let model: CompiledModel
    do {
        model = try CompiledModel(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1]), threads: 2)
    } catch {
        fail("cannot load \(CommandLine.arguments[1]): \(error)")
    }
    let (inputCount, outputCount) = (model.metadata.inputs[0].elementCount, model.metadata.outputs[0].elementCount)
    let samples: [[Float]] = (0..<4).map { seed in
        (0..<inputCount).map { index -> Float in
            let step = (index * 7 + seed * 13) % 17
            return Float(step) / 17 - 0.5
        }
    }
    guard let expected = try? samples.map({ try model.run(inputs: [$0])[0] }) else { fail("a serial run failed") }
    let callers = DispatchGroup()
    for caller in 0..<4 {
        callers.enter()
        Thread.detachNewThread {
            var output = [Float](repeating: 0, count: outputCount)
            for round in 0..<150 {
                let sample = (caller + round) % samples.count
                do {
                    if round % 2 == 0 {
                        try samples[sample].withUnsafeBufferPointer { input in
                            try output.withUnsafeMutableBufferPointer { try model.run(input, into: $0) }
                        }
                    } else {
                        output = try model.run(inputs: [samples[sample]])[0]
                    }
                } catch {
                    fail("caller \(caller), round \(round): \(error)")
                }
                if output.map(\.bitPattern) != expected[sample].map(\.bitPattern) {
                    fail("caller \(caller), round \(round): sample \(sample) gave other results than a serial run")
                }
            }
            callers.leave()
        }
    }
    callers.wait()
    print("concurrent runs on one model: ok")
}
