import Foundation
import Kiln
import KilnCompiler
import KilnIR
import KilnRuntime
import Testing

/// A graph compiled for its options' target and run natively: loaded into this
/// process for x86-64 targets, or linked into a small static AArch64 program
/// run under `qemu-aarch64` (Debian's `qemu-user`) for AArch64 targets.
struct NativeRunner {
    private enum Backend {
        case loaded(CompiledModel)
        case emulated(program: URL, arenaBytes: Int, directory: URL)
    }

    private let backend: Backend

    /// Compiles `graph` into `directory` with `compiler`.
    init(_ graph: Graph, options: CompileOptions, directory: URL, compiler: Compiler = Compiler()) throws {
        if options.target.variantTargets.first?.machine?.triple.hasPrefix("aarch64") == true {
            let result = try compiler.compile(graph, options: options, as: .staticObject, outputDirectory: directory)
            let program = directory.appendingPathComponent("model-aarch64")
            try AArch64Emulation.link(object: result.artifact, entryPoint: result.metadata.entryPoint, to: program)
            backend = .emulated(program: program, arenaBytes: result.metadata.arenaByteCount, directory: directory)
        } else {
            let result = try compiler.compile(graph, options: options, outputDirectory: directory)
            backend = .loaded(try CompiledModel(contentsOf: result.artifact))
        }
    }

    /// Each output's raw bytes for `inputs`.
    func run(_ inputs: [TensorData], outputByteCounts: [Int]) throws -> [[UInt8]] {
        switch backend {
        case .loaded(let model):
            return try runCompiled(model, inputs, outputByteCounts: outputByteCounts)
        case .emulated(let program, let arenaBytes, let directory):
            return try AArch64Emulation.run(
                program, arenaBytes: arenaBytes, inputs: inputs.map(\.bytes), outputByteCounts: outputByteCounts,
                directory: directory)
        }
    }
}

/// Building and running AArch64 test programs on an x86-64 Linux host.
enum AArch64Emulation {
    /// AArch64 NEON (Cortex-A53 class) and NEON with the dot-product extension (Cortex-A76 class).
    static let neon = CompileOptions(target: .custom(triple: "aarch64-unknown-linux-gnu", cpu: "cortex-a53", features: "+neon"))
    static let neonDotProd = CompileOptions(
        target: .custom(triple: "aarch64-unknown-linux-gnu", cpu: "cortex-a76", features: "+neon,+dotprod"))

    private static func tool(_ name: String) -> URL? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let url = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    static let qemu = tool("qemu-aarch64")
    static let compiler = tool("aarch64-linux-gnu-gcc")

    /// Whether AArch64 programs can be built and run here.
    static var isAvailable: Bool { qemu != nil && compiler != nil }

    /// Why the AArch64 suites do not run here.
    static let skipReason: Comment =
        "needs qemu-aarch64 and aarch64-linux-gnu-gcc (Debian: qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross; scripts/setup.sh installs them)"

    /// A C driver: `program ARENA_BYTES N_IN (PATH BYTES)… N_OUT (PATH BYTES)…` reads each input
    /// file into a 64-byte aligned buffer, runs the model once and writes each output file.
    ///
    /// Built with `-DDYNAMIC`, it loads the model: `program LIBRARY SYMBOL ARENA_BYTES …` opens an
    /// artifact with `dlopen` and runs its entry point `SYMBOL`; `program --hwcap` prints the
    /// CPU's `AT_HWCAP` and `AT_HWCAP2`, which the runtime reads its features from.
    private static let driver = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #ifdef DYNAMIC
        #include <dlfcn.h>
        #include <sys/auxv.h>
        #else
        void ENTRY(void *arena, const void *const *inputs, void *const *outputs);
        #endif
        static void *buffer(long bytes) { void *p = aligned_alloc(64, (bytes + 64) / 64 * 64); memset(p, 0xA5, bytes); return p; }
        int main(int argc, char **argv) {
            int a = 1;
        #ifdef DYNAMIC
            if (argc == 2 && strcmp(argv[1], "--hwcap") == 0) {
                printf("%lu %lu\\n", getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
                return 0;
            }
            void *library = dlopen(argv[a++], RTLD_NOW);
            if (!library) { fprintf(stderr, "%s\\n", dlerror()); return 4; }
            void (*ENTRY)(void *, const void *const *, void *const *) = (void (*)(void *, const void *const *, void *const *))dlsym(library, argv[a++]);
            if (!ENTRY) { fprintf(stderr, "%s\\n", dlerror()); return 5; }
        #endif
            void *arena = buffer(atol(argv[a++]));
            int inputCount = atoi(argv[a++]);
            const void *inputs[64];
            for (int i = 0; i < inputCount; i++, a += 2) {
                long bytes = atol(argv[a + 1]);
                void *p = buffer(bytes);
                FILE *f = fopen(argv[a], "rb");
                if (!f || fread(p, 1, bytes, f) != (size_t)bytes) return 2;
                fclose(f);
                inputs[i] = p;
            }
            int outputCount = atoi(argv[a++]);
            void *outputs[64];
            const char *paths[64];
            long sizes[64];
            for (int i = 0; i < outputCount; i++, a += 2) { paths[i] = argv[a]; sizes[i] = atol(argv[a + 1]); outputs[i] = buffer(sizes[i]); }
            ENTRY(arena, inputs, outputs);
            for (int i = 0; i < outputCount; i++) {
                FILE *f = fopen(paths[i], "wb");
                if (!f || fwrite(outputs[i], 1, sizes[i], f) != (size_t)sizes[i]) return 3;
                fclose(f);
            }
            return 0;
        }
        """

    /// Links a static AArch64 program from a model object and the driver.
    static func link(object: URL, entryPoint: String, to program: URL) throws {
        guard let compiler else { throw EmulationError.missingTool("aarch64-linux-gnu-gcc") }
        let source = program.deletingLastPathComponent().appendingPathComponent("driver.c")
        try driver.write(to: source, atomically: true, encoding: .utf8)
        try execute(compiler, ["-O1", "-static", "-DENTRY=\(entryPoint)", source.path, object.path, "-o", program.path])
    }

    /// Links the dynamic driver, which loads artifacts (`-DDYNAMIC`).
    static func linkLoader(to program: URL) throws {
        guard let compiler else { throw EmulationError.missingTool("aarch64-linux-gnu-gcc") }
        let source = program.deletingLastPathComponent().appendingPathComponent("loader.c")
        try driver.write(to: source, atomically: true, encoding: .utf8)
        try execute(compiler, ["-O1", "-DDYNAMIC", source.path, "-o", program.path, "-ldl"])
    }

    /// The sysroot qemu runs dynamically linked AArch64 programs from (Debian's cross libc).
    static let sysroot = "/usr/aarch64-linux-gnu"

    /// `AT_HWCAP` and `AT_HWCAP2` of the emulated `cpu`, as the loader driver prints them.
    static func hardwareCapabilities(loader: URL, cpu: String) throws -> (hwcap: UInt64, hwcap2: UInt64) {
        guard let qemu else { throw EmulationError.missingTool("qemu-aarch64") }
        let result = try CommandLineTool.run(qemu, ["-L", sysroot, "-cpu", cpu, loader.path, "--hwcap"])
        let words = result.output.split(whereSeparator: \.isWhitespace).compactMap { UInt64($0) }
        guard result.status == 0, words.count == 2 else {
            throw EmulationError.failed("\(loader.lastPathComponent) --hwcap", result.status, result.output)
        }
        return (words[0], words[1])
    }

    /// Runs `entryPoint` of the artifact `library` once through the loader driver on the emulated
    /// `cpu` and returns each output's bytes.
    static func runLoaded(
        _ library: URL, entryPoint: String, loader: URL, cpu: String, arenaBytes: Int, inputs: [[UInt8]],
        outputByteCounts: [Int], directory: URL
    ) throws -> [[UInt8]] {
        try run(
            loader, prefix: ["-L", sysroot, "-cpu", cpu], loading: [library.path, entryPoint], arenaBytes: arenaBytes,
            inputs: inputs, outputByteCounts: outputByteCounts, directory: directory)
    }

    /// Runs a linked program once under qemu and returns each output's bytes.
    static func run(
        _ program: URL, prefix: [String] = [], loading: [String] = [], arenaBytes: Int, inputs: [[UInt8]],
        outputByteCounts: [Int], directory: URL
    ) throws -> [[UInt8]] {
        guard let qemu else { throw EmulationError.missingTool("qemu-aarch64") }
        var arguments = prefix + [program.path] + loading + [String(max(arenaBytes, 1)), String(inputs.count)]
        for (index, bytes) in inputs.enumerated() {
            let url = directory.appendingPathComponent("input\(index).bin")
            try Data(bytes).write(to: url)
            arguments += [url.path, String(bytes.count)]
        }
        arguments.append(String(outputByteCounts.count))
        let outputs = outputByteCounts.indices.map { directory.appendingPathComponent("output\($0).bin") }
        for (url, count) in zip(outputs, outputByteCounts) { arguments += [url.path, String(count)] }
        try execute(qemu, arguments)
        return try outputs.map { [UInt8](try Data(contentsOf: $0)) }
    }

    enum EmulationError: Error, CustomStringConvertible {
        case missingTool(String)
        case failed(String, Int32, String)
        var description: String {
            switch self {
            case .missingTool(let name): "\(name) is not installed"
            case .failed(let command, let status, let output): "\(command) exited with \(status): \(output)"
            }
        }
    }

    private static func execute(_ tool: URL, _ arguments: [String]) throws {
        let result = try CommandLineTool.run(tool, arguments)
        guard result.status == 0 else {
            throw EmulationError.failed(
                ([tool.lastPathComponent] + arguments).joined(separator: " "), result.status, result.output)
        }
    }
}
