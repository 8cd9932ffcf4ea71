#[test]
fn schema_graphql_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists");
    let generated = ghl_baserow_gateway::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}
