"""Every ministry system through one generic client and one declarative contract per ministry
(``contracts/<partner>.yaml``): adding a ministry is a contract file, its sandbox double and a
registry entry (docs/architecture.md, "Adding a ministry")."""
