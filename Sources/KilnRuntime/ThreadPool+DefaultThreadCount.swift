extension ThreadPool {
    /// The threads a model runs on unless told otherwise: one per performance core
    /// (``HostCPU/performanceCoreCount``), at most 4, since the layers of small models stop
    /// gaining from more (a layer is split only from about 40k multiply-adds per thread).
    public static let defaultThreadCount = min(HostCPU.performanceCoreCount, 4)
}
