import Testing

@testable import KilnImport

@Suite struct InflateTests {
    @Test func checksumMatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test func inflatesStoredBlocks() throws {
        // Two stored blocks: "abc" (not final) then "de" (final).
        let stream: [UInt8] =
            [0x00, 3, 0, 0xFC, 0xFF] + Array("abc".utf8) + [0x01, 2, 0, 0xFD, 0xFF]
            + Array("de".utf8)
        #expect(try Inflate.decompress(stream[...], limit: 5) == Array("abcde".utf8))
    }

    @Test func inflatesFixedHuffmanBlocksWithOverlappingCopies() throws {
        // zlib's raw deflate of 100 × "a" then "bcbcbcbc": copies with distances 1 and 2.
        let stream: [UInt8] = [75, 76, 164, 61, 72, 74, 134, 64, 0]
        let expected = Array(String(repeating: "a", count: 100).utf8) + Array("bcbcbcbc".utf8)
        #expect(try Inflate.decompress(stream[...], limit: expected.count) == expected)
    }

    @Test func rejectsMalformedStreams() {
        let cases: [(stream: [UInt8], fragment: String)] = [
            ([0x07], "invalid block type 3"),
            ([0x01, 3, 0, 0x00, 0x00, 1, 2, 3], "does not match its complement"),
            ([0x01, 3, 0, 0xFC, 0xFF, 1], "runs past the end"),
            ([], "ends unexpectedly"),
            ([75, 76, 164, 61], "ends unexpectedly"),
            // Fixed block whose first symbol is a length/distance pair: nothing to copy from yet.
            ([0x03, 0x02], "before the start"),
        ]
        for (stream, fragment) in cases {
            do {
                _ = try Inflate.decompress(stream[...], limit: 1000)
                Issue.record("expected \(fragment)")
            } catch {
                #expect(error.reason.contains(fragment), "\(error.reason)")
            }
        }
    }

    @Test func refusesToGrowPastTheDeclaredSize() {
        let stream: [UInt8] = [75, 76, 164, 61, 72, 74, 134, 64, 0]
        do {
            _ = try Inflate.decompress(stream[...], limit: 50)
            Issue.record("expected an overrun error")
        } catch {
            #expect(error.reason.contains("more than the 50 bytes"))
        }
    }
}
