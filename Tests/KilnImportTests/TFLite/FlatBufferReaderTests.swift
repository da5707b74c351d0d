import Testing

@testable import KilnImport

/// Hostile FlatBuffers: every malformed offset or length must throw, not trap or loop.
@Suite struct FlatBufferReaderTests {
    /// Little-endian bytes of `values`, each 32 bits.
    static func words(_ values: [UInt32]) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in values { bytes.appendLittleEndian(value) }
        return bytes
    }

    static func root(_ bytes: [UInt8]) throws -> FlatBufferTable {
        try FlatBufferReader(bytes: bytes, source: "t.bin").rootTable("Root")
    }

    @Test func readsScalarsStringsAndVectorsWithDefaults() throws {
        let bytes = FB.file(
            root: .table([
                0: .int32(-5), 1: .string("héllo"), 2: .vector([.int64(-1), .int64(1 << 40)]),
                3: .float(1.5), 5: .vector([.string("a"), .string("bc")]),
                6: .vector([.table([0: .uint8(7)]), .table([:])]),
            ]))
        let table = try Self.root(bytes)
        #expect(try table.integer(0, default: Int32(9), "a") == -5)
        #expect(try table.string(1, "b") == "héllo")
        #expect(try table.integers(2, Int64.self, "c") == [-1, 1 << 40])
        #expect(try table.float(3, default: 0, "d") == 1.5)
        #expect(try table.integer(4, default: Int32(9), "absent") == 9)
        #expect(try table.integer(40, default: Int32(9), "beyond the vtable") == 9)
        #expect(try table.strings(5, "e") == ["a", "bc"])
        let tables = try #require(try table.tables(6, "f"))
        #expect(try tables.map { try $0.integer(0, default: UInt8(1), "g") } == [7, 1])
        #expect(tables[0].depth == 1 && tables[0].path == "Root.f[0]")
        #expect(try table.table(7, "h") == nil && table.vector(8, elementSize: 4, "i") == nil)
    }

    @Test func rejectsARootOffsetPastTheEnd() {
        expectTFLiteFailure(containing: "t.bin: Root: the offset at byte 0 points to byte 4096") {
            _ = try Self.root(Self.words([4096, 0]))
        }
        expectTFLiteFailure(containing: "t.bin: Root:", "lies outside the file (2 bytes)") {
            _ = try Self.root([1, 0])
        }
    }

    @Test func rejectsVTablesOutsideTheBuffer() {
        // Root at 4; its vtable offset puts the vtable 1000 bytes before the start.
        expectTFLiteFailure(containing: "vtable at byte -996, outside the file") {
            _ = try Self.root(Self.words([4, 1000]))
        }
        // Vtable after the table claims more bytes than remain.
        var bytes = Self.words([4, UInt32(bitPattern: -4)])
        bytes += [0xFE, 0xFF, 8, 0]
        expectTFLiteFailure(containing: "the vtable at byte 8 claims 65534 bytes") {
            _ = try Self.root(bytes)
        }
        // Odd vtable size.
        var odd = Self.words([4, UInt32(bitPattern: -4)])
        odd += [5, 0, 4, 0, 0, 0]
        expectTFLiteFailure(containing: "claims 5 bytes, which is invalid") {
            _ = try Self.root(odd)
        }
        // Table size that runs past the end of the buffer.
        var long = Self.words([4, UInt32(bitPattern: -4)])
        long += [4, 0, 0xFF, 0x7F]
        expectTFLiteFailure(containing: "the table at byte 4 claims 32767 bytes") {
            _ = try Self.root(long)
        }
    }

    @Test func rejectsFieldsOutsideTheirTable() throws {
        // The vtable says field 0 sits at offset 200 of an 8-byte table.
        var bytes = Self.words([12, 0, 0])  // root offset, padding
        bytes += [6, 0, 8, 0, 200, 0, 0, 0]  // vtable at 12 (8 bytes incl. padding)
        let table = bytes.count
        bytes += Self.words([UInt32(table - 12), 0])
        bytes[0] = UInt8(table)
        let root = try Self.root(bytes)
        expectTFLiteFailure(
            containing: "Root.x: the field at offset 200 does not fit in its 8-byte table"
        ) {
            _ = try root.integer(0, default: Int32(0), "x")
        }
    }

    @Test func rejectsVectorsThatRunPastTheEnd() throws {
        // Field 0 refers to a vector whose count is 0xFFFFFFFF: count × 8 would overflow 32 bits.
        var bytes = FB.file(root: .table([0: .vector([.int64(1)])]))
        let count = bytes.count - 12
        bytes.replaceSubrange(count..<(count + 4), with: Self.words([0xFFFF_FFFF]))
        let root = try Self.root(bytes)
        expectTFLiteFailure(
            containing: "Root.v: the vector of 4294967295 8-byte elements", "runs past the end"
        ) {
            _ = try root.integers(0, Int64.self, "v")
        }
        expectTFLiteFailure(containing: "4294967295 4-byte elements") {
            _ = try root.tables(0, "v")
        }
        expectTFLiteFailure(containing: "4294967295 1-byte elements") {
            _ = try root.string(0, "v")
        }
        // A vector of table offsets whose targets are past the end.
        var tables = FB.file(root: .table([0: .vector([.table([:])])]))
        let rootTable = try Self.root(tables)
        let vector = try #require(try rootTable.vector(0, elementSize: 4, "v"))
        tables.replaceSubrange(
            vector.start..<(vector.start + 4), with: Self.words([0x7FFF_FFFF]))
        expectTFLiteFailure(
            containing: "Root.v[0]: the offset at byte \(vector.start) points to byte"
        ) {
            _ = try Self.root(tables).tables(0, "v")
        }
    }

    @Test func capsNestingDepth() throws {
        // A chain of 40 tables, each with field 0 pointing at the next.
        var node = FB.table([:])
        for _ in 0..<40 { node = .table([0: node]) }
        var table = try Self.root(FB.file(root: node))
        expectTFLiteFailure(containing: "tables nest more than 32 deep") {
            for _ in 0..<40 {
                table = try #require(try table.table(0, "next"))
            }
        }
    }

    @Test func capsTheWorkSharedVectorsCanCause() throws {
        // 200 table offsets all point at one table whose vector has 10,000 elements:
        // decoding every table's vector would produce 2,000,000 values from a 40 kB file.
        var bytes = Self.words([4])  // root offset → root table at 4
        bytes += Self.words([UInt32(bitPattern: -8)])  // root table: its vtable is at 12
        bytes += Self.words([0])  // field 0: offset to the vector, patched below
        bytes += [6, 0, 8, 0, 4, 0, 0, 0]  // vtable: one field at offset 4
        let vectorStart = bytes.count
        bytes.replaceSubrange(8..<12, with: Self.words([UInt32(vectorStart - 8)]))
        bytes += Self.words([200])
        let elements = bytes.count
        let sharedTable = elements + 200 * 4 + 8  // after the slots and the shared vtable
        for index in 0..<200 {
            bytes += Self.words([UInt32(sharedTable - (elements + 4 * index))])
        }
        let sharedVTable = bytes.count
        bytes += [6, 0, 8, 0, 4, 0, 0, 0]
        #expect(bytes.count == sharedTable)
        // The shared table: its vtable offset, then field 0 pointing just past itself.
        bytes += Self.words([UInt32(sharedTable - sharedVTable), 4])
        bytes += Self.words([10_000]) + [UInt8](repeating: 0, count: 40_000)

        let reader = FlatBufferReader(bytes: bytes, source: "shared.bin")
        let tables = try #require(try reader.rootTable("Root").tables(0, "t"))
        #expect(tables.count == 200)
        #expect(try tables[0].integers(0, Int32.self, "v")?.count == 10_000)
        expectTFLiteFailure(
            containing: "shared.bin: Root.t[", "refer to far more data than it holds"
        ) {
            for table in tables { _ = try table.integers(0, Int32.self, "v") }
        }
    }
}
