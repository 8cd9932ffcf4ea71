// Example operations shown as GraphiQL tabs, one per gateway capability.
// The first entry is the active tab on load, so pressing Run shows data at once.
// tests/tooling/check-schema.mjs validates every one against schema.graphql.

export const EXAMPLES = [
  {
    name: 'Nested read',
    query: `# Nested read: contacts with their tasks and notes.
query Contacts {
  contacts(first: 5) {
    edges {
      node {
        id
        ghlId
        baserowRowId
        name
        email
        phone
        tasks {
          id
          title
          completed
        }
        notes {
          id
          body
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
`,
  },
  {
    name: 'Dual-write mutation',
    query: `# Dual-write: creates the contact in GoHighLevel and
# Baserow; "operation" reports the outcome per system.
mutation Create {
  createContact(
    input: {
      firstName: "Ada"
      lastName: "Lovelace"
      email: "ada@example.com"
      phone: "+14155550123"
    }
  ) {
    contact {
      id
      ghlId
      baserowRowId
      name
    }
    operation {
      id
      status
      ghl {
        outcome
        error
      }
      baserow {
        outcome
        error
      }
    }
  }
}
`,
  },
  {
    name: 'Operation lookup',
    query: `# Operation lookup: paste an operation id (from a
# mutation result) into the Variables editor below.
query Op($id: ID!) {
  operation(id: $id) {
    id
    kind
    status
    ghl {
      outcome
      error
    }
    baserow {
      outcome
      error
    }
  }
}
`,
    variables: `{
  "id": "paste an operation id"
}
`,
  },
  {
    name: 'Audit log',
    query: `# Audit log: latest changes, before/after snapshots.
query Audit {
  auditLog(first: 20) {
    edges {
      node {
        at
        trigger
        system
        entityId
        before
        after
      }
    }
  }
}
`,
  },
  {
    name: 'Subscription',
    query: `# Live updates over WebSocket (graphql-transport-ws).
# Run it, then run the Create tab.
subscription Live {
  contactChanged {
    kind
    id
    contact { name email ghlId baserowRowId }
  }
}
`,
  },
];

/**
 * GraphiQL `defaultTabs`: every tab carries the same headers (the
 * Authorization header when the gateway handed out a token).
 */
export function exampleTabs(headers) {
  return EXAMPLES.map(({ query, variables }) => ({
    query,
    variables: variables ?? null,
    headers: headers ?? null,
  }));
}
