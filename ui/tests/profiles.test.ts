import { describe, expect, it } from "vitest";
import { profileName, profileNameError, withProfileName } from "../src/lib/logic/profiles";

const THERMO = `# A room thermostat.
name = "thermostat"
description = "Always online."

[methods.default]
name = "not-the-profile"
status = 404
`;

describe("profileName", () => {
  it("reads the top-level name, not a name inside a table", () => {
    expect(profileName(THERMO)).toBe("thermostat");
    expect(profileName("[c2d]\nname = 'x'\n")).toBeNull();
  });

  it("reads single-quoted names", () => {
    expect(profileName("name = 'pump'  # mine\n")).toBe("pump");
  });
});

describe("withProfileName", () => {
  it("rewrites only the top-level name line and keeps comments after it", () => {
    const out = withProfileName(THERMO, "my-thermo");
    expect(profileName(out)).toBe("my-thermo");
    expect(out).toContain('name = "not-the-profile"');
    expect(out).toContain("# A room thermostat.");
    expect(withProfileName('name = "a" # note\n', "b")).toBe('name = "b" # note\n');
  });

  it("adds a name after the leading comments when there is none", () => {
    const out = withProfileName("# hello\n\n[c2d]\naction = \"reject\"\n", "rejecter");
    expect(out).toBe('# hello\n\nname = "rejecter"\n[c2d]\naction = "reject"\n');
  });
});

describe("profileNameError", () => {
  it("accepts letters, digits, - and _", () => {
    expect(profileNameError("my_pump-2")).toBeNull();
  });

  it("refuses empty names and other characters", () => {
    expect(profileNameError("")).toBe("give the profile a name");
    expect(profileNameError("my pump")).toBe("use letters, digits, - and _ only");
    expect(profileNameError("a/b")).toBe("use letters, digits, - and _ only");
  });
});
