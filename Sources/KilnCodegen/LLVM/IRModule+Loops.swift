extension IRModule {
    /// Emits `for i in stride(from: start, to: end, by: step) { body(i) }` over an `i64` counter.
    ///
    /// Nothing is emitted when the range is empty, and a single iteration is emitted straight-line
    /// with the constant `start`. The body may create blocks (e.g. nested loops); the builder is
    /// left at the loop's exit block.
    func loop(
        _ name: String, from start: Int, to end: Int, step: Int = 1, body: (IRValue) throws -> Void
    ) rethrows {
        precondition(step > 0, "loop step must be positive")
        guard end > start else { return }
        if end - start <= step {
            try body(constant(start, i64))
            return
        }
        try emitLoop(
            name, from: constant(start, i64), to: constant(end, i64), step: step, body: body)
    }

    /// Emits a counted loop whose `i64` bounds are only known at run time; it runs zero times
    /// when `start >= end` (signed).
    func loop(
        _ name: String, from start: IRValue, to end: IRValue, step: Int = 1,
        body: (IRValue) throws -> Void
    ) rethrows {
        precondition(step > 0, "loop step must be positive")
        try emitLoop(name, from: start, to: end, step: step, body: body)
    }

    /// Preheader → header (φ, test) → body → latch (increment) → header, exiting from the header.
    private func emitLoop(
        _ name: String, from start: IRValue, to end: IRValue, step: Int,
        body: (IRValue) throws -> Void
    ) rethrows {
        let preheader = insertBlock
        let function = llvm.getBasicBlockParent(preheader)
        let header = appendBlock("\(name).header", to: function)
        let bodyBlock = appendBlock("\(name).body", to: function)
        branch(to: header)

        position(at: header)
        let index = phi(i64, name: name)
        addIncoming(index, start, from: preheader)
        let inRange = icmp(.slt, index, end, name: "\(name).inrange")

        position(at: bodyBlock)
        try body(index)
        // Latch and exit are appended only now so that blocks made by the body (inner loops)
        // come before them, keeping the printed IR in source order.
        let latch = appendBlock("\(name).latch", to: function)
        let exit = appendBlock("\(name).exit", to: function)
        branch(to: latch)

        position(at: latch)
        // nsw tells scalar evolution the counter cannot wrap, which the vectorizer relies on.
        let next = llvm.buildNSWAdd(builder, index, constant(step, i64), "\(name).next")
        addIncoming(index, next, from: latch)
        branch(to: header)

        position(at: header)
        conditionalBranch(inRange, then: bodyBlock, else: exit)

        position(at: exit)
    }
}
