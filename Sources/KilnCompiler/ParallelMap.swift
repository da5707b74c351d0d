import Dispatch

/// Maps work items on several threads at once, for work whose items share nothing mutable
/// (one LLVM context and target machine per item).
enum ParallelMap {
    /// `transform` of each of `items`, in order, computed on up to one thread per CPU; the
    /// first error (by item order) is rethrown after all items finish.
    static func map<Item, Value>(_ items: [Item], _ transform: (Item) throws -> Value) throws -> [Value] {
        guard items.count > 1 else { return try items.map(transform) }
        return try withoutActuallyEscaping(transform) { transform in
            let work = Work(items: items, transform: transform)
            DispatchQueue.concurrentPerform(iterations: items.count) { index in work.run(index) }
            return try work.results()
        }
    }

    /// The items, the transform and one result slot per item. Each slot is written by exactly
    /// one iteration and read after all have finished, which is what makes sharing it safe.
    private final class Work<Item, Value>: @unchecked Sendable {
        let items: [Item]
        let transform: (Item) throws -> Value
        let slots: UnsafeMutableBufferPointer<Result<Value, any Error>?>

        init(items: [Item], transform: @escaping (Item) throws -> Value) {
            self.items = items
            self.transform = transform
            slots = .allocate(capacity: items.count)
            slots.initialize(repeating: nil)
        }

        deinit {
            _ = slots.deinitialize()
            slots.deallocate()
        }

        func run(_ index: Int) {
            slots[index] = Result { try transform(items[index]) }
        }

        func results() throws -> [Value] {
            try slots.map { slot in
                guard let slot else { preconditionFailure("concurrentPerform skipped an iteration") }
                return try slot.get()
            }
        }
    }
}
