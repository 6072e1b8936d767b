//! The rustdoc front page carries the README's "Things to know" word for word, so a
//! newcomer reading either learns the same rules. Edit both together.

fn readme_things() -> String {
    let readme = include_str!("../README.md");
    let start = readme
        .find("Things to know:\n")
        .expect("README has a \"Things to know:\" section")
        + "Things to know:\n".len();
    let end = readme[start..]
        .find("\n## ")
        .map_or(readme.len(), |i| start + i);
    readme[start..end].trim().to_string()
}

fn front_page_things() -> String {
    let lib = include_str!("../runtime/src/lib.rs");
    let doc: Vec<&str> = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.strip_prefix("//!")
                .unwrap()
                .strip_prefix(' ')
                .unwrap_or("")
        })
        .collect();
    let doc = doc.join("\n");
    let start = doc
        .find("# Things to know\n")
        .expect("the front page has a \"# Things to know\" section")
        + "# Things to know\n".len();
    let end = doc[start..].find("\n# ").map_or(doc.len(), |i| start + i);
    doc[start..end].trim().to_string()
}

#[test]
fn front_page_says_what_the_readme_says() {
    let (readme, front) = (readme_things(), front_page_things());
    assert!(
        readme.len() > 500,
        "the README section is suspiciously short"
    );
    assert_eq!(
        front, readme,
        "runtime/src/lib.rs's \"Things to know\" differs from README.md's"
    );
}
