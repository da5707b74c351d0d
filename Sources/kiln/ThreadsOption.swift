import ArgumentParser
import KilnRuntime

/// `--threads`, shared by the commands that run a model.
struct ThreadsOption: ParsableArguments {
    @Option(
        help: """
            Threads that share the layers split among threads (1 to \(ThreadPool.maximumThreadCount); \
            by default one per performance core, at most 4).
            """)
    var threads = ThreadPool.defaultThreadCount

    func validate() throws {
        guard (1...ThreadPool.maximumThreadCount).contains(threads) else {
            throw ValidationError("--threads must be from 1 to \(ThreadPool.maximumThreadCount), got \(threads)")
        }
    }
}
