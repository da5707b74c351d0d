import ArgumentParser
import Foundation
import KilnRuntime

/// `--isa`, shared by the commands that run a model: which of an artifact's code variants runs.
struct ISAOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Run the artifact's code for this ISA level instead of the best this CPU runs (kiln inspect ARTIFACT lists them).",
            valueName: "level"))
    var isa: String?

    /// The CPU features to load `model` of the artifact at `url` with: this CPU's, or with
    /// `--isa` only those of that variant this CPU also has (so a level the CPU lacks is refused).
    func cpuFeatures(artifact url: URL, model name: String?) throws -> Set<String>? {
        guard let isa else { return HostCPU.features }
        let models = try ArtifactFile.readModels(contentsOf: url)
        guard let metadata = name.map({ name in models.first { $0.modelName == name } }) ?? models.first else {
            return HostCPU.features  // Loading reports the missing model.
        }
        let levels = metadata.codeVariants.map(\.isaLevel)
        guard let variant = metadata.codeVariants.first(where: { $0.isaLevel == isa }) else {
            throw ValidationError(
                "\(url.path) holds code for \(levels.joined(separator: ", ")) for model '\(metadata.modelName)', not \(isa)")
        }
        let required = Set(variant.requiredCPUFeatures)
        return HostCPU.features.map { required.intersection($0) } ?? required
    }
}
