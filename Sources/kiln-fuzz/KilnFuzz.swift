import Foundation
import KilnFuzzing
import KilnImport

// Two ways to run the same fuzz targets:
//
// - Built with libFuzzer (`scripts/fuzz.sh`, which passes `-sanitize=fuzzer,address -DKILN_LIBFUZZER`),
//   libFuzzer's own `main` drives the coverage-guided search through the entry points below; the
//   target and extra seed models come from `KILN_FUZZ_TARGET` and `KILN_FUZZ_MODELS`.
// - Built normally, `kiln-fuzz TARGET` replays corpus files and then runs seeded random inputs.

/// The target and its seed models, read from the environment.
enum FuzzConfiguration {
    /// The built-in seeds and the `.tflite` files in the colon-separated folders of `KILN_FUZZ_MODELS`.
    static func seedModels(_ folders: [String]) -> [TFLiteModel] {
        var models: [TFLiteModel] = []
        for folder in folders where !folder.isEmpty {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for file in files.sorted() where file.hasSuffix(".tflite") {
                if let model = try? TFLiteModel(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent(file)) {
                    models.append(model)
                }
            }
        }
        return SeedModels.all + models
    }

    /// The built-in ONNX seeds and the `.onnx` files in the folders, as bytes.
    static func onnxSeeds(_ folders: [String]) -> [[UInt8]] {
        var files: [[UInt8]] = []
        for folder in folders where !folder.isEmpty {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() where name.hasSuffix(".onnx") {
                if let data = FileManager.default.contents(atPath: URL(fileURLWithPath: folder).appendingPathComponent(name).path) {
                    files.append([UInt8](data))
                }
            }
        }
        return ONNXSeedModels.all + files
    }

    static func target(named name: String, models: [String]) -> FuzzTarget? {
        FuzzTarget.all(tfliteSeeds: seedModels(models), onnxSeeds: onnxSeeds(models)).first { $0.name == name }
    }

    static let environmentTarget: FuzzTarget? = {
        let environment = ProcessInfo.processInfo.environment
        let models = (environment["KILN_FUZZ_MODELS"] ?? "").split(separator: ":").map(String.init)
        return target(named: environment["KILN_FUZZ_TARGET"] ?? "tflite", models: models)
    }()
}

#if KILN_LIBFUZZER
    /// libFuzzer's entry point for programs that keep their own `main`.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    // SwiftPM links an executable's `main` under this name; libFuzzer runs from it.
    @_cdecl("kiln_fuzz_main")
    func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        guard let target = FuzzConfiguration.environmentTarget else {
            FileHandle.standardError.write(Data("kiln-fuzz: KILN_FUZZ_TARGET names no target\n".utf8))
            return 64
        }
        FileHandle.standardError.write(Data("kiln-fuzz: target \(target.name)\n".utf8))
        var count = argc
        var arguments = argv
        return runFuzzerDriver(&count, &arguments) { data, size in
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
            _ = FuzzConfiguration.environmentTarget?.run(bytes)
            return 0
        }
    }
#else
    /// `kiln-fuzz TARGET [--runs N] [--seed S] [--models DIR] [CORPUS ...]`: replays the corpus
    /// (`.hex` files, folders or files), then runs N inputs made by randomly editing its entries.
    @main
    struct KilnFuzz {
        static func main() {
            var arguments = Array(CommandLine.arguments.dropFirst())
            let usage = "usage: kiln-fuzz tflite|onnx|safetensors|npy|npz [--runs N] [--seed S] [--models DIR] [CORPUS ...]"
            guard let name = arguments.first else { fail(usage) }
            arguments.removeFirst()
            var runs = 10_000
            var seed: UInt64 = 1
            var models: [String] = []
            var corpusPaths: [String] = []
            while let argument = arguments.first {
                arguments.removeFirst()
                switch argument {
                case "--runs": runs = Int(arguments.first ?? "") ?? -1
                case "--seed": seed = UInt64(arguments.first ?? "") ?? 0
                case "--models": models.append(arguments.first ?? "")
                default: corpusPaths.append(argument); continue
                }
                guard !arguments.isEmpty, runs >= 0 else { fail(usage) }
                arguments.removeFirst()
            }
            guard let target = FuzzConfiguration.target(named: name, models: models) else { fail(usage) }
            let corpus = corpusPaths.flatMap(corpusFiles)
            let start = ContinuousClock.now
            let run = RandomFuzzRun(target, corpus: corpus, runs: runs, seed: seed)
            let outcomes = run.outcomes
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            let total = outcomes.values.reduce(0, +)
            let counts = FuzzTarget.Outcome.allCases.map { "\($0.rawValue) \(outcomes[$0] ?? 0)" }
            print(
                "kiln-fuzz \(name): \(total) executions (\(corpus.count) corpus) in \(String(format: "%.1f", seconds)) s, "
                    + "\(Int(Double(total) / max(seconds, 1e-9)))/s, 0 crashes; " + counts.joined(separator: ", "))
        }

        static func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data((message + "\n").utf8))
            exit(64)
        }

        /// The inputs at `path`: a `.hex` corpus file's lines, a folder's files, or the file itself.
        static func corpusFiles(_ path: String) -> [[UInt8]] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("\(path): no such file") }
            if path.hasSuffix(".hex") {
                return FuzzCorpus.decode((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            }
            let files =
                isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            return files.compactMap { FileManager.default.contents(atPath: $0).map { [UInt8]($0) } }
        }
    }
#endif
