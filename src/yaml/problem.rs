//! What is wrong with a node, before [`super::YamlError`] gives it a position.

/// Why the reader refuses a node. Every text says what kubectl does with the same input, because
/// the reader's promise is to read manifests exactly as kubectl does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error(
        "`{text}` is {what}, which JSON cannot hold (kubectl fails with \"json: unsupported \
         value\"); quote it if you mean a string"
    )]
    NotFinite { text: String, what: &'static str },
    #[error(
        "a null key (`{text}`) cannot become a JSON key; kubectl refuses it too (quote it for the \
         string \"{text}\")"
    )]
    NullKey { text: String },
    #[error(
        "the key {text} is too large for kubectl (sigs.k8s.io/yaml refuses uint64 keys); quote it"
    )]
    UnsignedKey { text: String },
    #[error("!!binary value contains invalid base64 data")]
    InvalidBase64,
    #[error("cannot decode {found} `{text}` as a {tag}")]
    TagMismatch { found: &'static str, text: String, tag: String },
    #[error("alias to an unknown anchor")]
    UnknownAnchor,
    #[error("a mapping or sequence used as a mapping key is not supported")]
    CollectionKey,
    #[error(
        "a `<<` merge key needs a mapping, an alias to one, or a sequence of them; found {found}"
    )]
    MergeSource { found: &'static str },
    #[error("nesting deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("unbalanced end of collection")]
    Unbalanced,
    #[error("duplicate key \"{key}\" in mapping")]
    DuplicateKey { key: String },
    #[error(
        "document contains excessive aliasing: {aliases} of its {nodes} nodes come from aliases \
         (alias bomb? kubectl refuses this too)"
    )]
    ExcessiveAliasing { aliases: usize, nodes: usize },
    #[error(
        "aliases in this file expand to more than {max} nodes (alias bomb?); that is the most one \
         file may add"
    )]
    FileAliasCap { max: usize },
    #[error(
        "aliases in the files loaded so far expand to more than {max} nodes (alias bomb?); that is \
         the most one load of the repo may add"
    )]
    LoadAliasCap { max: usize },
    #[error(
        "found unknown escape character `\\/` (kubectl's YAML 1.1 reader has no such escape; \
         write `/`)"
    )]
    SlashEscape,
    #[error(
        "found a tab after `{indicator}`; kubectl's YAML 1.1 reader refuses tabs there (use \
         spaces)"
    )]
    TabAfterIndicator { indicator: char },
    #[error(
        "`{text}` inside `[ ]` or `{{ }}`: kubectl's YAML 1.1 reader takes `?` and a leading `:` \
         there for indicators (and fails or reads something else); quote it"
    )]
    FlowIndicator { text: String },
    #[error(
        "{what} name `{name}`: kubectl's YAML 1.1 reader allows only letters, digits, `-` and `_` \
         in anchor names"
    )]
    AnchorName { what: &'static str, name: String },
}
