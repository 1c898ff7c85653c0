// Types of pattern.cjs (plain JS: see there why).
export declare function patternByte(i: number): number;
export declare function pattern(offset: number, length: number): Buffer;
export declare function countMismatches(data: Uint8Array, pos: number, onMismatch?: (position: number) => void): number;
