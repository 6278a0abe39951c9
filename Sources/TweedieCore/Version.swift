// The tool version, written into every output's provenance keywords.
public enum TweedieVersion {
    public static let string = "0.1.0"
}
