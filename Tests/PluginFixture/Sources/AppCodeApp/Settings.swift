enum Settings {
    static let width = 16
}
