import type { FieldError } from "./field-errors.js";
import { isObject, type JsonObject } from "./json.js";
import { KubeStatusError } from "./status.js";

const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const TOTAL_ANNOTATION_SIZE = 256 * 1024;

const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** A qualified name (`prefix/name`), as label and annotation keys must be; the reasons, if it is not. */
function qualifiedNameErrors(key: string): string[] {
  const parts = key.split("/");
  const name = parts.length === 2 ? (parts[1] ?? "") : (parts[0] ?? "");
  const prefix = parts.length === 2 ? parts[0] : undefined;
  const out: string[] = [];
  if (parts.length > 2) {
    out.push(
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    );
    return out;
  }
  if (name === "") out.push("name part must be non-empty");
  else if (name.length > 63) out.push("name part must be no more than 63 characters");
  else if (!NAME_PART.test(name)) out.push(NAME_PART_MSG);
  if (prefix !== undefined && (prefix === "" || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    out.push(
      "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  }
  return out;
}

/** Label and annotation maps must hold strings: anything else fails decoding (400), as in Go. */
function checkStringMap(m: JsonObject, field: string): void {
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== "string") {
      throw new KubeStatusError(
        400,
        "BadRequest",
        `json: cannot unmarshal ${Array.isArray(v) ? "array" : v === null ? "null" : typeof v} into Go struct field ObjectMeta.metadata.${field} of type string (key ${JSON.stringify(k)})`,
      );
    }
  }
}

/** ObjectMeta validation every kind gets: name, labels, annotations (keys and total size). */
export function validateObjectMeta(metadata: JsonObject, options: { readonly dnsLabelName: boolean }): FieldError[] {
  const errors: FieldError[] = [];
  const name = metadata.name;
  if (typeof name !== "string" || name === "") {
    errors.push({ field: "metadata.name", type: "Required", detail: "name or generateName is required" });
  } else {
    const re = options.dnsLabelName ? DNS_LABEL : DNS_SUBDOMAIN;
    const max = options.dnsLabelName ? 63 : 253;
    if (!re.test(name) || name.length > max) {
      errors.push({
        field: "metadata.name",
        type: "Invalid",
        value: name,
        detail: options.dnsLabelName
          ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
          : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      });
    }
  }
  const labels = metadata.labels;
  if (isObject(labels)) {
    checkStringMap(labels, "labels");
    for (const [k, v] of Object.entries(labels)) {
      for (const why of qualifiedNameErrors(k))
        errors.push({ field: "metadata.labels", type: "Invalid", value: k, detail: why });
      if (typeof v === "string" && (v.length > 63 || !LABEL_VALUE.test(v))) {
        errors.push({
          field: "metadata.labels",
          type: "Invalid",
          value: v,
          detail:
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        });
      }
    }
  }
  const annotations = metadata.annotations;
  if (isObject(annotations)) {
    checkStringMap(annotations, "annotations");
    let total = 0;
    for (const [k, v] of Object.entries(annotations)) {
      total += Buffer.byteLength(k) + Buffer.byteLength(String(v));
      for (const why of qualifiedNameErrors(k.toLowerCase())) {
        errors.push({ field: "metadata.annotations", type: "Invalid", value: k, detail: why });
      }
    }
    if (total > TOTAL_ANNOTATION_SIZE) {
      errors.push({
        field: "metadata.annotations",
        type: "TooLong",
        detail: `must have at most ${TOTAL_ANNOTATION_SIZE} bytes`,
      });
    }
  }
  return errors;
}
