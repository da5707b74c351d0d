import Foundation
import Testing

@testable import KilnImport

/// Damaged copies of the reference models: reading must throw or succeed, never trap or hang.
// Enabled only where ../shared/models exists: the models are not in the repository.
@Suite(.enabled(if: ReferenceModels.available, ReferenceModels.skipReason))
struct TFLiteFuzzTests {
    /// Reads `bytes`, returning whether it threw; any failure must be a ``TFLiteError`` naming the file.
    static func readDamaged(_ bytes: [UInt8], _ label: String) -> Bool {
        do {
            _ = try TFLiteModel(bytes: bytes, source: "damaged.tflite")
            return false
        } catch let error as TFLiteError {
            #expect(error.message.hasPrefix("damaged.tflite: "), "\(label): \(error.message)")
        } catch {
            Issue.record("\(label): expected a TFLiteError, got \(error)")
        }
        return true
    }

    @Test(arguments: ReferenceModels.names)
    func truncatedFilesThrow(name: String) throws {
        let bytes = try ReferenceModels.bytes(name)
        // Every length up to 64 (header and root table), then every 64th of the file.
        let lengths = Set(Array(0..<64) + (1..<64).map { bytes.count * $0 / 64 })
        for length in lengths.sorted() {
            do {
                _ = try TFLiteModel(bytes: Array(bytes.prefix(length)), source: "cut.tflite")
                Issue.record("\(name) cut to \(length) bytes read without error")
            } catch let error as TFLiteError {
                #expect(error.message.hasPrefix("cut.tflite: "), "\(error.message)")
            }
        }
    }

    @Test(arguments: ReferenceModels.names)
    func flippedBytesThrowOrRead(name: String) throws {
        let original = try ReferenceModels.bytes(name)
        // Most of a model is weight data, where any byte is valid, so half the
        // flips go to the first and last 2 kB, where the tables and vtables lie.
        let edge = min(2048, original.count / 2)
        var generator = SplitMix64(seed: 0x7F4A_7C15 ^ UInt64(original.count))
        let start = ContinuousClock.now
        var rejected = 0
        for trial in 0..<400 {
            let random = generator.next()
            let position: Int
            switch trial % 4 {
            case 0: position = Int(random % UInt64(edge))
            case 1: position = original.count - 1 - Int(random % UInt64(edge))
            default: position = Int(random % UInt64(original.count))
            }
            var bytes = original
            // Alternate single-bit flips with whole-byte replacements, which make large offsets.
            let mask =
                trial % 2 == 0
                ? UInt8(1) << (random >> 32 & 7) : UInt8(truncatingIfNeeded: random >> 40) | 0x80
            bytes[position] ^= mask
            if Self.readDamaged(bytes, "\(name) byte \(position) ^ \(mask)") { rejected += 1 }
        }
        // Several-byte damage at once, to reach states one flip cannot.
        for trial in 0..<50 {
            var bytes = original
            for _ in 0..<8 {
                let random = generator.next()
                let position = Int(random % UInt64(min(original.count, 4096)))
                bytes[trial % 2 == 0 ? position : original.count - 1 - position] = UInt8(
                    truncatingIfNeeded: random >> 32)
            }
            if Self.readDamaged(bytes, "\(name) multi-byte trial \(trial)") { rejected += 1 }
        }
        // Damage to the tables must be caught, not just survived.
        #expect(rejected >= 50, "only \(rejected) of 450 damaged copies were rejected")
        #expect(ContinuousClock.now - start < crawlLimit(30), "damaged reads must not crawl")
    }
}

/// A small, deterministic pseudo-random generator (SplitMix64), so failures reproduce.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
